"""XMILE export (placeholder until written)."""
def to_xmile(model):
    raise NotImplementedError
