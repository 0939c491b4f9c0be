"""Parts: small sub-models with declared ports, from which the library's models are composed.

Each module here defines part functions, `NAME(**overrides) -> Model`, that declare their
inputs with `Model.input` (units, default, and the source of the default) and their outputs
with `Model.output`, and lists them in `PARTS`. A system includes a part with
`Model.module(prefix, part(), display=...)` and wires it with `handle.connect(input, source)`
and `other.out[output]`, in any order, so parts that feed each other need no forward names.
`tests/test_parts_common.py` holds every part to that contract.

Units (checked by `sdm check`; library/README.md, "Units"): a countable thing is its own unit
(req, queries, connections, tokens, keys, pods...), a count of servers in a queueing formula
is a number, and a conversion between countable units is an explicit factor of 1 carrying
both (`_wiring.conversion`: "a query holds one connection", connections/query).
"""
