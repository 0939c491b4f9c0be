"""Link polarity: structural rules, the run's check, stated polarities; Part 1.3 examples."""
import pytest

from _analysis_models import cache_miss_cascade, pod_eviction, rate_limiting
from sdmodels import Model, build, find_loops, if_then_else, link_polarities, maximum
from sdmodels.analysis.polarity import Structure, lookup_direction


def loop_through(loops, *names):
    ids = [n.lower().replace(" ", "_") for n in names]
    found = [l for l in loops if set(ids) <= set(l.variables)]
    assert len(found) == 1, [l.names for l in loops]
    return found[0]


def inversions(loop):
    return sum(link.polarity == "-" for link in loop.links)


def test_rate_limiting_is_balancing_with_one_inversion():
    loop = loop_through(find_loops(rate_limiting()), "Rejections", "Accepted requests")
    assert loop.polarity == "B"
    assert inversions(loop) == 1
    assert [l.polarity for l in loop.links if l.polarity == "-"] == ["-"]
    bad = [l for l in loop.links if l.polarity == "-"][0]
    assert (bad.cause, bad.effect) == ("rejections", "accepted_requests")


def test_cache_miss_cascade_is_reinforcing_with_no_inversion():
    loop = loop_through(find_loops(cache_miss_cascade()), "Misses", "DB queries", "DB latency",
                        "Cache timeouts")
    assert loop.polarity == "R"
    assert inversions(loop) == 0


def test_pod_eviction_is_reinforcing_with_two_inversions():
    loop = loop_through(find_loops(pod_eviction()), "Memory", "Eviction", "Running pods",
                        "Load per pod")
    assert loop.polarity == "R"
    assert inversions(loop) == 2
    negative = {(l.cause, l.effect) for l in loop.links if l.polarity == "-"}
    assert negative == {("eviction", "running_pods"), ("running_pods", "load_per_pod")}


def test_logistic_growth_link_is_mixed_and_its_loop_unknown():
    # d/dP [r P (1 - P/K)] = r (1 - 2P/K): positive below K/2, negative above; the run
    # from P=1 to near K=100 crosses K/2 = 50 (logistic with r=0.5 reaches 50 at t ~ 9.2)
    m = Model("logistic", stop=40, dt=0.25)
    p = m.stock("Population", initial=1, non_negative=True)
    m.flow("Growth", 0.5 * p * (1 - p / 100), into=p)
    link = link_polarities(m)["population", "growth"]
    assert link.structural == "unknown" and link.observed == "mixed"
    assert link.polarity == "mixed"
    loops = find_loops(m)
    assert [l.polarity for l in loops] == ["U"] and loops[0].id == "U1"
    assert "population -> growth (mixed)" in loops[0].why_unknown
    # without the run the structure alone cannot tell
    assert link_polarities(m, behaviour=False)["population", "growth"].polarity == "unknown"


def test_structure_rules():
    m = Model("rules", stop=1)
    x = m.stock("X", initial=1, non_negative=True)
    k = m.constant("K", 2)
    up = m.lookup("Up", [(0, 0), (1, 0.5), (2, 2)])
    down = m.lookup("Down", [(0, 1), (1, 0.2), (2, 0.2)])
    hump = m.lookup("Hump", [(0, 0), (1, 1), (2, 0)])
    eqs = {"Ratio": k / x, "Diff": 10 - x, "Min": maximum(x, 3), "Up of x": up(x),
           "Down of x": down(x), "Hump of x": hump(x), "Same branches": if_then_else(k > 1, x, 2 * x),
           "Switch": if_then_else(x > 1, 0, 5), "Power": x ** 2, "Inverse power": x ** -1,
           "Exp": 2 ** x}
    for name, eq in eqs.items():
        m.aux(name, eq)
    m.flow("Drain", 0 * x, out_of=x)
    ir = build(m)
    s = Structure(ir)

    def sign(effect):
        from sdmodels.analysis.graph import host_expression
        return s.slope(host_expression(ir, ir.variables[ir.id_of(effect)]), "x")
    assert sign("Ratio") == -1 and sign("Diff") == -1 and sign("Min") == 1
    assert sign("Up of x") == 1 and sign("Down of x") == -1 and sign("Hump of x") is None
    assert sign("Same branches") == 1 and sign("Switch") is None
    assert sign("Power") == 1 and sign("Inverse power") == -1 and sign("Exp") == 1
    assert lookup_direction([1, 1, 1]) == 0


def test_stated_polarity_fills_unknown_and_is_flagged_when_it_contradicts():
    m = Model("stated", stop=10, dt=0.5)
    p = m.stock("P", initial=1, non_negative=True)
    m.flow("Growth", 0.5 * p * (1 - p / 100), into=p)
    pol = link_polarities(m, behaviour=False, stated={("P", "Growth"): "+"})
    assert pol["p", "growth"].polarity == "+" and not pol["p", "growth"].conflict
    pol = link_polarities(rate_limiting(), behaviour=False,
                          stated={("Rejections", "Accepted requests"): "+"})
    link = pol["rejections", "accepted_requests"]
    assert link.conflict and link.polarity == "-" and "equations say -" in link.note
    loops = find_loops(rate_limiting(), behaviour=False,
                       stated={("Rejections", "Accepted requests"): "+"})
    assert any("flagged" in n for n in loops.notices)
    with pytest.raises(ValueError, match="no such link"):
        link_polarities(rate_limiting(), behaviour=False, stated={("Load", "Rejections"): "+"})


def test_unsigned_stock_is_settled_by_the_run():
    # SIR-like product with a stock not declared non-negative: the structure cannot sign
    # d(S*I)/dI, the run (S stays positive) does
    m = Model("product", stop=10, dt=0.25)
    s = m.stock("S", initial=100)
    i = m.stock("I", initial=1)
    m.flow("Infection", 0.001 * s * i, out_of=s, into=i)
    assert link_polarities(m, behaviour=False)["i", "infection"].polarity == "unknown"
    link = link_polarities(m)["i", "infection"]
    assert link.polarity == "+" and link.structural in ("+", "unknown")
