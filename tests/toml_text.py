"""Descriptions written as TOML for the tests that compare TOML with the YAML examples."""


def as_toml(data, table=()) -> str:
    """`data` (from YAML) written as TOML: mappings as tables, lists of mappings as arrays
    of tables, lists of scalars inline; null fields left out (TOML has no null). A test
    helper, not the product: it only needs to write what the examples hold."""
    def scalar(v):
        return ("true" if v else "false") if isinstance(v, bool) else \
            repr(v) if isinstance(v, (int, float)) else '"' + str(v).replace('"', '\\"') + '"'

    def key(k):
        return k if all(c.isalnum() or c in "_-" for c in str(k)) else f'"{k}"'

    def inline(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{key(k)} = {inline(x)}" for k, x in v.items()
                                   if x is not None) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(inline(x) for x in v) + "]"
        return scalar(v)

    lines, later = [], []
    for k, v in data.items():
        if v is None:
            continue
        if isinstance(v, dict):
            later.append(("table", k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            later.append(("array", k, v))
        else:
            lines.append(f"{key(k)} = {inline(v)}")
    text = "\n".join(lines) + "\n"
    for how, k, v in later:
        path = ".".join(map(key, table + (k,)))
        if how == "table":
            text += f"\n[{path}]\n" + as_toml(v, table + (k,))
        else:
            for item in v:
                text += f"\n[[{path}]]\n" + "\n".join(
                    f"{key(a)} = {inline(x)}" for a, x in item.items() if x is not None) + "\n"
    return text
