"""Loop enumeration: known loop sets, ids, names, delays, modules, output forms."""
import json
import warnings

import pandas as pd
import pytest

from _analysis_models import composed, inventory, predator_prey, sir
from sdmodels import Model, ModelWarning, causal_graph, find_loops, maximum


def signature(loops):
    return {(frozenset(l.variables), l.polarity) for l in loops}


def test_sir_loops():
    # Infection is a contagion loop (R); depletion of susceptibles and recovery balance (B)
    loops = find_loops(sir())
    assert signature(loops) == {
        (frozenset({"infectious", "succumbing"}), "R"),
        (frozenset({"susceptible", "succumbing"}), "B"),
        (frozenset({"infectious", "recovering"}), "B")}
    # numbered by length, then by variable ids: the same ids pysimlin gives this model
    assert [(l.id, l.variables) for l in loops] == [
        ("B1", ("infectious", "recovering")), ("R1", ("infectious", "succumbing")),
        ("B2", ("susceptible", "succumbing"))]
    assert loops.counts() == {"R": 1, "B": 2, "U": 0}


def test_predator_prey_loops():
    loops = find_loops(predator_prey())
    assert signature(loops) == {
        (frozenset({"prey", "prey_births"}), "R"),
        (frozenset({"prey", "prey_deaths"}), "B"),
        (frozenset({"predators", "predator_births"}), "R"),
        (frozenset({"predators", "predator_deaths"}), "B"),
        # prey -> predator reproduction -> predators -> predation -> prey deaths -| prey
        (frozenset({"prey", "predator_reproduction_ratio", "predator_births", "predators",
                    "fractional_predation_rate", "prey_deaths"}), "B")}
    big = max(loops, key=lambda l: l.length)
    assert big.length == 6 and big.variables[0] == "predators"   # starts at smallest stock id


def test_inventory_supply_line_delay_is_one_delayed_link():
    loops = find_loops(inventory(order_delay=4.0))
    control = loops["Stock control"]
    assert control.polarity == "B"
    assert control.variables == ("inventory", "orders", "arrivals")
    assert [(d.cause, d.effect, d.kind, d.order, d.time) for d in control.delays] == [
        ("Orders", "Arrivals", "delay3", 3, 4.0)]
    assert control.total_delay == 4.0
    # the delay's three internal stages are not nodes of the causal graph
    g = causal_graph(inventory())
    assert set(g.nodes) == {"inventory", "orders", "arrivals", "shipments"}
    assert g.edges["orders", "arrivals"]["delays"][0].order == 3
    assert loops["B1"].delays == ()  # shipments loop


def test_pipeline_delay_and_smooth_are_reported():
    from sdmodels import delay_fixed, smooth
    m = Model("pipes", stop=10, dt=0.25)
    s = m.stock("Work", initial=10, non_negative=True)
    seen = m.aux("Seen work", smooth(s, 2))
    m.flow("Done", delay_fixed(seen / 5, 1.5, 0), out_of=s)
    loop = find_loops(m)[0]
    assert loop.polarity == "B"
    assert [(d.kind, d.time) for d in loop.delays] == [("smooth", 2.0), ("delay_fixed", 1.5)]
    assert loop.total_delay == pytest.approx(3.5)


def test_loop_across_modules_is_marked_from_composition():
    loops = find_loops(composed())
    storm = loops["Retry storm"]
    assert storm.polarity == "R"
    assert storm.from_composition and storm.modules == ("backend",)
    assert "retry_rate" in storm.variables and "backend.queue" in storm.variables
    inside = [l for l in loops if l is not storm]
    assert len(inside) == 1 and inside[0].polarity == "B"
    assert not inside[0].from_composition and inside[0].modules == ("backend",)
    # the sub-model alone has only the inner loop
    from _analysis_models import service
    assert [l.polarity for l in find_loops(service())] == ["B"]


def test_ids_are_stable_under_renumbering_and_names_follow_their_loop():
    def build(order, extra_loop):
        m = Model("order test", stop=5, dt=0.25)
        decls = {
            "a": lambda: m.stock("A", initial=1, non_negative=True),
            "b": lambda: m.stock("B", initial=1, non_negative=True),
        }
        for key in order:
            decls[key]()
        m.flow("A out", "A / 2", out_of="A")
        m.flow("B in", "A / 4", into="B")
        m.flow("B out", "B / 3", out_of="B")
        if extra_loop:
            m.flow("A in", "B / 10", into="A")
        m.name_loop("B drain", ["B", "B out"])
        return m
    first = find_loops(build("ab", False))
    again = find_loops(build("ba", False))
    assert first.to_json() == again.to_json()
    grown = find_loops(build("ab", True))
    assert len(grown) == len(first) + 1
    assert grown["B drain"].variables == first["B drain"].variables == ("b", "b_out")
    assert first["B drain"].id == "B2" and grown["B drain"].id == "B2"
    assert grown["R1"].variables == ("a", "b_in", "b", "a_in")


def test_json_fields_and_tables():
    loops = find_loops(inventory())
    data = json.loads(loops.to_json())["loops"]
    assert [d["id"] for d in data] == [l.id for l in loops]
    for d in data:
        assert set(d) >= {"id", "name", "polarity", "variables", "length", "delays",
                          "total_delay", "modules", "from_composition"}
        assert d["polarity"] in ("R", "B", "U") and d["length"] == len(d["variables"])
    control = next(d for d in data if d["name"] == "Stock control")
    assert control["variables"] == ["Inventory", "Orders", "Arrivals"]
    assert control["delays"] == [{"from": "Orders", "to": "Arrivals", "kind": "delay3",
                                  "order": 3, "time": 4.0}]
    frame = loops.to_pandas()
    assert isinstance(frame, pd.DataFrame) and list(frame["id"]) == [l.id for l in loops]
    text = loops.to_table()
    assert "Stock control" in text and "balancing" in text
    header, rule, *lines = text.splitlines()
    assert header.split() == ["id", "name", "type", "delay", "loop"]   # the variables last,
    row = next(line for line in lines if "Stock control" in line)         # unpadded
    assert row.endswith("Inventory -> Orders -> Arrivals -> Inventory")
    md = loops.to_markdown()
    assert md.splitlines()[0].startswith("| id | name |") and "| B2 |" in md
    assert "<table" in loops._repr_html_()


def test_bound_stops_with_a_notice_and_independent_set_covers_every_link():
    # a complete digraph on 6 nodes has sum_k C(6,k)(k-1)! = 409 elementary cycles
    m = Model("dense", stop=1)
    names = [f"S{i}" for i in range(6)]
    for n in names:
        m.stock(n, initial=1, non_negative=True)
    for i, n in enumerate(names):
        total = " + ".join(o for o in names if o != n)
        m.flow(f"F{i}", f"({total}) / 100", into=n)
    # each stock reads every other through its inflow: a complete graph over the flows
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        some = find_loops(m, max_loops=50, behaviour=False)
    assert len(some) == 50 and not some.complete
    assert any(issubclass(w.category, ModelWarning) for w in caught)
    assert "stopped after 50 loops" in some.notices[0] and "independent" in some.notices[0]
    every = find_loops(m, behaviour=False)
    assert len(every) == 409 and every.complete
    sils = find_loops(m, method="independent", behaviour=False)
    g = causal_graph(m)
    covered = {e for l in sils for e in l.edges}
    assert covered == set(g.edges)
    # every loop of the independent set adds a link that the shorter ones do not have
    seen = set()
    for l in sorted(sils, key=lambda l: l.length):
        assert set(l.edges) - seen
        seen |= set(l.edges)
    # a named loop past the cap is listed all the same, and the count says where it came from
    m.name_loop("Round", ["S0", "F5", "S5", "F4", "S4", "F3", "S3", "F2", "S2", "F1", "S1",
                          "F0"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capped = find_loops(m, max_loops=5, behaviour=False)
    # the ring the other way round passes the same variables: the name goes to the loop
    # that visits them in the order named
    assert len(capped) == 6 and capped[-1].name == "Round" and capped[4].name is None
    assert capped[4].variables[1] == "f1"
    assert capped.summary().startswith("6 loops in 'dense' (enumeration stopped at the cap of "
                                       "5, and 1 named loop found beyond it; the model has more)")


def test_unknown_loop_name_variables_give_a_notice():
    m = Model("named", stop=1)
    s = m.stock("S", initial=1)
    m.flow("Out", s / 2, out_of=s)
    m.aux("Unrelated", maximum(s, 0))
    m.name_loop("Ghost", ["Unrelated", "Out"])
    loops = find_loops(m, behaviour=False)
    assert loops[0].name is None
    assert any("Ghost" in n for n in loops.notices)
