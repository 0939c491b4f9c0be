"""Link polarity: structural rules, the run's check, stated polarities; Part 1.3 examples."""
import pytest

from _analysis_models import cache_miss_cascade, pod_eviction, rate_limiting
from sdmodels import (Model, build, canonical, delay_fixed, exp, find_loops, if_then_else,
                      link_polarities, maximum, minimum, rolling_max, sample_hold, smooth, xidz,
                      zidz)
from sdmodels.analysis.intervals import Ranges
from sdmodels.analysis.sign_rules import Structure, lookup_direction


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
    assert sign("Same branches") == 1
    assert sign("Switch") == -1          # x > 1 turns 5 into 0: the jump at the switch
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


# --------------------------------------------------------------------------- sharper rules
def _structural(m, cause, effect):
    return link_polarities(m, behaviour=False)[canonical(cause), canonical(effect)].polarity


def test_weakly_monotone_functions_keep_the_sign():
    # min/max/ceil/floor/round/integer never decrease when an argument increases
    m = Model("monotone", stop=4)
    x = m.stock("X", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=x)
    cap = m.constant("Cap", 10)
    eqs = {"Capped": minimum(x, cap), "Pods": "ceil(X / 4)", "Floored": "floor(X)",
           "Rounded": "round(X / 3)", "Whole": "integer(X)", "Clamped": maximum(1, minimum(x, cap)),
           "Pods left": "10 - ceil(X / 4)"}
    for name, eq in eqs.items():
        m.aux(name, eq)
    for name in eqs:
        expected = "-" if name == "Pods left" else "+"
        assert _structural(m, "X", name) == expected, name
    assert _structural(m, "Cap", "Capped") == "+"


def test_if_then_else_branch_keeps_its_sign_when_the_other_branch_does_not_read_the_cause():
    m = Model("branches", stop=4)
    x = m.stock("X", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=x)
    on = m.constant("On", 1)
    m.aux("Branch", if_then_else(on > 0, 2 * x, 7))
    m.aux("Other branch", if_then_else(on > 0, 7, -x))
    assert _structural(m, "X", "Branch") == "+"
    assert _structural(m, "X", "Other branch") == "-"


@pytest.mark.parametrize("high, low, expected", [(2, 7, "-"), (7, 2, "+")])
def test_condition_only_link_gets_the_sign_of_the_branch_difference(high, low, expected):
    # X grows 0 -> 10 and crosses the threshold 5: the switch moves from `low` to `high`,
    # so raising X changes the effect by high - low where it crosses (0 elsewhere); the
    # equations say so (the jump's sign) and the run agrees
    m = Model("switch", stop=10, dt=0.25)
    x = m.stock("X", initial=0, non_negative=True)
    m.flow("Inflow", 1, into=x)
    m.aux("Switch", if_then_else(x > m.constant("Threshold", 5), high, low))
    link = link_polarities(m)["x", "switch"]
    assert link.structural == expected
    assert link.observed == expected and link.polarity == expected


def test_zero_effects_are_not_a_change_of_sign():
    # below 5 the effect is 0 for small nudges (ignored), a nudge crossing 5 jumps up;
    # above 5 it is X itself: never negative, so '+' and not 'mixed'
    m = Model("gate", stop=10, dt=0.25)
    x = m.stock("X", initial=0, non_negative=True)
    m.flow("Inflow", 1, into=x)
    m.aux("Gated", if_then_else(x > 5, x, 0))
    link = link_polarities(m)["x", "gated"]
    assert link.observed == "+" and link.polarity == "+"
    assert link.structural == "+"        # branch x rises, and x - 0 >= 0 where it is taken


def test_a_step_link_is_seen_with_nudges_big_enough_to_cross_it():
    # ceil inside a threshold: a 1e-6 nudge changes nothing at most times
    m = Model("pods", stop=10, dt=1)
    load = m.stock("Load", initial=100, non_negative=True)
    m.flow("Growth", 5, into=load)
    m.aux("Enough pods", if_then_else(load > 120, 1, 0))
    assert link_polarities(m)["load", "enough_pods"].observed == "+"


def test_product_with_a_non_negative_stock_and_a_negative_constant():
    m = Model("product", stop=4)
    s = m.stock("S", initial=5, non_negative=True)
    m.flow("Out", s / 2, out_of=s)
    k = m.constant("K", -3)
    x = m.aux("X", 2 + 0 * s)
    m.aux("Scaled", k * s)               # d/dS = K < 0
    m.aux("Scaled by stock", k * x * s)   # d/dX = K * S <= 0
    assert _structural(m, "S", "Scaled") == "-"
    assert _structural(m, "K", "Scaled") == "+"          # S >= 0
    assert _structural(m, "X", "Scaled by stock") == "-"


def test_interval_signs_through_fractions_and_lookups():
    # 1 - (1 - a)(1 - b) with a = min(1, X / 10) and b from a lookup with y in [0, 0.8]:
    # both factors 1 - a and 1 - b are in [0, 1], so the "either fails" share rises with each
    m = Model("fractions", stop=4)
    x = m.stock("X", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=x)
    share = m.lookup("Share", [(0, 0), (10, 0.8)])
    a = m.aux("A", minimum(1, x / 10))
    b = m.aux("B", share(x))
    m.aux("Either", 1 - (1 - a) * (1 - b))
    m.aux("Neither", (1 - a) * (1 - b) * x)
    assert _structural(m, "A", "Either") == "+" and _structural(m, "B", "Either") == "+"
    assert _structural(m, "A", "Neither") == "-"
    assert _structural(m, "X", "Neither") == "+"       # (1 - a)(1 - b) >= 0


def test_division_xidz_zidz_and_powers():
    m = Model("division", stop=4)
    x = m.stock("X", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=x)
    k = m.constant("K", 4)
    eqs = {"Per": xidz(k, x, 5), "Share": zidz(x, k), "Root": x ** 0.5, "Decay": 0.5 ** x,
           "Inverse": x ** m.constant("Minus one", -1), "Grow": 3 ** x}
    for name, eq in eqs.items():
        m.aux(name, eq)
    expected = {"Per": "-", "Share": "+", "Root": "+", "Decay": "-", "Inverse": "-", "Grow": "+"}
    for name, sign in expected.items():
        assert _structural(m, "X", name) == sign, name


def test_delays_smooths_and_samplers_are_positive_links():
    m = Model("stateful", stop=4)
    x = m.stock("X", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=x)
    m.aux("Held", sample_hold(x, 2))
    m.aux("Late", 10 - delay_fixed(x, 1, 0))
    m.aux("Smoothed", smooth(x, 2))
    m.aux("Peak", rolling_max(x, 2))
    assert _structural(m, "X", "Held") == "+" and _structural(m, "X", "Late") == "-"
    assert _structural(m, "X", "Smoothed") == "+" and _structural(m, "X", "Peak") == "+"


def test_leftover_of_a_min_is_never_negative():
    # Rejected = Offered - min(Offered, Room) >= 0, so Rejected * Cost rises with Cost
    m = Model("queue", stop=4)
    q = m.stock("Queue", initial=0, non_negative=True)
    offered = m.aux("Offered", 10 - 0.1 * q)
    room = m.aux("Room", 20 - q)
    accepted = m.aux("Accepted", minimum(offered, room))
    rejected = m.aux("Rejected", offered - accepted)
    m.aux("Penalty", rejected * m.aux("Cost", 3 - 0.01 * q))
    m.flow("Fill", accepted, into=q)
    ranges = Ranges(build(m))
    assert ranges.var("rejected")[0] == 0.0
    assert _structural(m, "Cost", "Penalty") == "+"


def test_a_link_seen_only_in_a_scenario_is_signed_from_that_scenario():
    # the baseline threshold (1000) is never reached, even by the largest nudge (2 * max X
    # = 20); the scenario lowers it to 5, which X crosses
    def model(with_scenario):
        m = Model("scenarios", stop=10, dt=0.25)
        x = m.stock("X", initial=0, non_negative=True)
        m.flow("Inflow", 1, into=x)
        m.aux("Alarm", if_then_else(x > m.constant("Threshold", 1000), 1, 0))
        if with_scenario:
            m.add_scenario("low threshold", {"Threshold": 5})
        return m
    never = link_polarities(model(False))["x", "alarm"]
    assert never.observed is None        # the run never crosses 1000 ...
    assert never.polarity == "+"         # ... the equations still say 0 -> 1 when it does
    assert link_polarities(model(True))["x", "alarm"].observed == "+"
    assert link_polarities(model(True), scenario="low threshold")["x", "alarm"].polarity == "+"


def test_a_switch_left_off_still_gets_the_sign_it_has_when_on():
    # Breaker on = 0 in every run makes the link absent; its sign once on is that of -S
    m = Model("switch off", stop=4)
    s = m.stock("S", initial=0.5, non_negative=True)
    m.flow("Out", s / 2, out_of=s)
    on = m.constant("Breaker on", 0)
    m.aux("Trips", on * (1 - s))
    link = link_polarities(m)["s", "trips"]
    assert link.polarity == "-" and "no effect" in link.note


def test_no_structural_sign_is_contradicted_by_the_runs_on_the_library():
    from sdmodels.sources import library_names, load_model
    for name in library_names():
        pol = link_polarities(load_model(name))
        wrong = [(l.cause, l.effect, l.note) for l in pol.values()
                 if l.structural in ("+", "-") and l.observed in ("+", "-")
                 and l.observed != l.structural]
        assert not wrong, (name, wrong)


def test_saturations_and_switches_with_a_cause_in_the_condition():
    """x - min(x, k) = max(0, x - k) rises with x; a timeout share that is 1 past its budget
    and c exp(-(budget - x)) <= 1 before it rises with x (jump from c <= 1 up to 1); a ramp
    that falls back to 0 past a threshold is neither (it rises, then drops)."""
    m = Model("saturations", stop=10, dt=0.25)
    x = m.stock("X", initial=0, non_negative=True)
    m.flow("Inflow", 1, into=x)
    k = m.constant("K", 4)
    m.aux("Excess", x - minimum(x, k))
    m.aux("Room", minimum(x, k) - x)
    c = m.constant("C", 0.3)
    m.aux("Timeout share", if_then_else(x >= 6, 1, c * exp(-(6 - x))))
    m.aux("Ramp then drop", if_then_else(x > 5, 0, x))
    assert _structural(m, "X", "Excess") == "+"
    assert _structural(m, "X", "Room") == "-"
    pol = link_polarities(m)
    assert pol["x", "timeout_share"].structural == "+"
    assert pol["x", "ramp_then_drop"].structural == "unknown"
    assert pol["x", "ramp_then_drop"].polarity == "mixed"


# --------------------------------------------------------------------------- shared factors
def test_terms_sharing_the_moved_factor_are_added_first():
    """x - x * loss = x (1 - loss) rises with x for loss in [0, 1]; 3 k x - 5 k x = -2 k x
    falls with x for k > 0; x p - x q (p, q >= 0 stocks) depends on which is larger, so it
    stays unknown. A breaker's admission closed + half * cap - half * cap * judged (cap =
    min(1, 10 / calls), judged in {0, 1}) is half * cap * (1 - judged) + closed: it falls
    as the calls rise, although the two cap terms pull apart."""
    m = Model("shared", stop=4)
    x = m.stock("X", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=x)
    p = m.stock("P", initial=1, non_negative=True)
    q = m.stock("Q", initial=2, non_negative=True)
    m.flow("P in", 1, into=p)
    m.flow("Q in", 1, into=q)
    loss, k = m.constant("Loss", 0.3), m.constant("K", 2)
    m.aux("Kept", x - x * loss)
    m.aux("Net", 3 * k * x - 5 * (k * x))
    m.aux("Either", x * p - x * q)
    mode = m.stock("Mode", initial=2, non_negative=True)
    m.flow("Mode change", 0, into=mode)
    half, closed = mode.eq(2), mode.eq(0)
    cap = minimum(1, 10 / maximum(x, 1e-9))
    judged = m.aux("Judged", mode > 1)
    m.aux("Admission", closed + half * cap - half * cap * judged)
    assert _structural(m, "X", "Kept") == "+"
    assert _structural(m, "Loss", "Kept") == "-"
    assert _structural(m, "X", "Net") == "-"
    assert _structural(m, "X", "Either") == "unknown"
    assert _structural(m, "P", "Either") == "+"
    assert _structural(m, "X", "Admission") == "-"


def test_regrouping_only_signs_what_was_unknown():
    # a sum already signed term by term keeps its sign; no term shared, nothing regrouped
    m = Model("plain", stop=4)
    x = m.stock("X", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=x)
    m.aux("Sum", 2 * x + x * m.constant("K", 4))
    m.aux("Logistic", x * (1 - x / 100))
    assert _structural(m, "X", "Sum") == "+"
    assert _structural(m, "X", "Logistic") == "unknown"     # 1 - 2x/100 changes sign


def test_unsigned_links_are_reported_in_json_and_notices():
    import json
    m = Model("logistic", stop=40, dt=0.25)
    p = m.stock("Population", initial=1, non_negative=True)
    m.flow("Growth", 0.5 * p * (1 - p / 100), into=p)
    loops = find_loops(m)
    data = json.loads(loops.to_json())
    assert data["counts"] == {"R": 0, "B": 0, "U": 1}
    assert data["unsigned_links"] == [{"from": "Population", "to": "Growth",
                                       "polarity": "mixed", "loops": 1}]
    assert data["loops"][0]["why_unknown"] == [{"from": "Population", "to": "Growth",
                                                "polarity": "mixed"}]
    note = next(n for n in loops.notices if "make them U" in n)
    assert "'Population' -> 'Growth' (mixed) in 1 loop" in note
    assert "sdm dominance logistic" in note


def test_a_guard_against_dividing_by_zero_is_signed_like_zidz():
    """if n > 0 then a / max(n, eps) else 0, for n >= 0, is zidz(a, n): it falls as n
    rises (a >= 0), as zidz does; the 0 is the value at n = 0 where the share is undefined.
    A switch at 0 that is no division (if n > 0 then 5 else 10) keeps its jump, and so does
    a guard whose cause can go below the threshold."""
    m = Model("guard", stop=4)
    n = m.stock("N", initial=3, non_negative=True)
    m.flow("Inflow", 1, into=n)
    signed = m.stock("Signed", initial=3)
    m.flow("Signed change", -1, into=signed)
    a = m.constant("A", 2)
    m.aux("Share", if_then_else(n > 0, a / maximum(n, 1e-9), 0))
    m.aux("Zidz share", zidz(a, n))
    m.aux("Health", if_then_else(n > 0, 5, 10))
    m.aux("Signed share", if_then_else(signed > 0, a / maximum(signed, 1e-9), 0))
    assert _structural(m, "N", "Share") == "-" == _structural(m, "N", "Zidz share")
    assert _structural(m, "N", "Health") == "-"               # the jump 10 -> 5
    assert _structural(m, "Signed", "Signed share") == "unknown"


def test_ranges_of_coded_states_and_of_a_decay_to_a_floor():
    """A breaker-like admission (m = 0) + (m = 2) * c * (1 - d), with m a coded state and
    c, d in [0, 1], is in [0, 1] (m is one state at a time), so the shed share
    1 - admission is >= 0 and the calls shed rise with the calls; term by term it would be
    [-1, 2]. A held value halving towards 1 from 10 (x' = x / 2 + 1 / 2) stays in [1, 10]:
    the growth of its range stops at the threshold 1 instead of widening to -inf."""
    from sdmodels.analysis.intervals import Ranges
    m = Model("coded", stop=4)
    mode = m.aux("Mode", delay_fixed(m.aux("Next mode", 2 - 0 * m.time), 1, 0))
    calls = m.stock("Calls", initial=5, non_negative=True)
    m.flow("More calls", 1, into=calls)
    c = m.aux("Cap", minimum(1, 10 / maximum(calls, 1e-9)))
    d = m.aux("Judged", mode > 1)
    admit = m.aux("Admission", mode.eq(0) + mode.eq(2) * c - mode.eq(2) * c * d)
    m.aux("Shed", calls * (1 - admit))
    from sdmodels.expr import Ref
    x = m.aux("Held", delay_fixed(Ref("next_held"), 1, 10))
    m.aux("Next held", x / 2 + 0.5)
    m.aux("Scaled", m.constant("K", 3) * x)
    ranges = Ranges(build(m))
    assert ranges.var("admission") == (0.0, 1.0)
    assert _structural(m, "Calls", "Shed") == "+"
    assert ranges.var("held") == (1.0, 10.0)
    assert _structural(m, "K", "Scaled") == "+"


def test_black_friday_named_loops_read_as_the_reference_tells():
    """The reference's Black Friday story: slow queries hold connections, payment retries
    load the database and the autoscaler grabs connections, each reinforcing; the retry
    budget balances. The loops still U pass a link without a fixed sign, which the notice
    names with how many loops it makes U."""
    from sdmodels.sources import load_model
    loops = find_loops(load_model("black_friday"))
    named = {l.name: l.polarity for l in loops if l.name}
    assert named == {"Slow query holds connections": "R",
                     "Payment retries load the database": "R",
                     "Autoscaler grabs connections": "R", "Retry budget caps retries": "B"}
    ranked = loops.unsigned_links()
    assert sum(1 for l in loops if l.polarity == "U") <= sum(l["loops"] for l in ranked)
    assert all(l["polarity"] in ("mixed", "unknown") for l in ranked)
    note = next(n for n in loops.notices if "make them U" in n)
    assert f"in {ranked[0]['loops']} loops" in note and "sdm dominance black_friday" in note
