"""Behaviour of library/capacity_spiral.py against the reference's Part 3.6 and arithmetic."""
from functools import partial

import math

import numpy as np
import pytest

from library import capacity_spiral
from sdmodels import build, simulate as _simulate
from sdmodels.analysis import find_loops

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")

P = {name: spec[0] for name, spec in capacity_spiral.PARAMETERS.items()}
G = P["Demand growth"]                  # 20 %/year (10x then 12x, Part 3.6)
F = P["Post-mortem safety factor"]      # 2: "20x normal (just in case)" after a 10x outage
CUT = P["Budget cut fraction"]          # 50 %: "Reduce cloud spend by 50%"
STOP = 120.0                            # months


@pytest.fixture(scope="module")
def kernel():
    return build(capacity_spiral.build())


def outage_starts(results, run=0):
    """Times (months) at which an outage begins, from the saved 'Outage' series."""
    o, t = results["Outage"][run], results.times
    return t[1:][(o[1:] > 0.5) & (o[:-1] < 0.5)]


def recurrence_years(safety, cut, growth):
    """Years between outages when every yearly review cuts: after an outage at peak P the
    post-mortem buys F * P; n reviews later capacity is F * P * (1 - c)^n while the peak is
    P * (1 + g)^n, so the next outage is at the first n >= 1 with ((1 + g) / (1 - c))^n > F."""
    n = 1
    while ((1 + growth) / (1 - cut)) ** n <= safety:
        n += 1
    return n


def test_baseline_without_holiday_peak_never_fails(kernel):
    r = simulate(kernel, scenario="baseline")
    assert r["Outage time"][0, -1] == 0
    # routine planning holds 5 % over the monthly average, lagging 20 %/year growth by
    # about 2 months (1.5 %/month): utilization stays near 1 / 1.05 = 0.95
    util = r["Utilization"][0][r.times >= 12]
    assert util.min() > 0.9 and util.max() < 1.0


def test_trigger_outage_every_year_as_in_the_reference(kernel):
    r = simulate(kernel, scenario="trigger")
    starts = outage_starts(r)
    assert recurrence_years(F, CUT, G) == 1                    # 2.4 > 2: the next peak breaks
    assert len(starts) == int(STOP // 12)                       # one outage per Black Friday
    assert np.allclose(np.diff(starts), 12.0, atol=0.5)
    # each outage is at a peak (within a week of Peak month, modulo 12)
    phase = (starts - P["Peak month"] + 6) % 12 - 6
    assert np.all(np.abs(phase) < 0.25)


def test_post_mortem_over_provisions_and_finance_cuts_half(kernel):
    r = simulate(kernel, scenario="trigger")
    t, cap, demand = r.times, r["Provisioned capacity"][0], r["Demand"][0]
    year1 = t < 12
    # the peak that broke it, seen at every dt (the saved grid can straddle a 3-day peak):
    # 10 x 1.2^(10.9/12) = 11.8x launch normal; dt = 1/64 month is within 0.008 month of the
    # crest, where the bump is exp(-(0.008/0.1)^2) > 0.99 of its height
    peak1 = r["Outage peak"][0][year1].max()
    assert peak1 == pytest.approx(10 * (1 + G) ** (P["Peak month"] / 12), rel=0.01)
    assert demand[year1].max() <= peak1 * (1 + 1e-9)
    # the post-mortem buys F x the peak; within its 3-month window at a 1-month provisioning
    # time it gets 1 - e^-3 = 95 % of the way
    before_review = (t > P["Peak month"]) & (t < 12 + P["Budget review month"])
    assert cap[before_review].max() == pytest.approx(F * peak1, rel=0.06)
    # Part 3.6's "Utilization: 10%": monthly average over 2x the peak is well under 15 %
    util = r["Utilization"][0]
    at_review = np.searchsorted(t, 12 + P["Budget review month"])
    assert util[at_review - 1] < P["Utilization floor"]
    # the review halves it: "Provisioned: Back to 10x"
    after_cut = np.searchsorted(t, 12 + P["Budget review month"] + 2)
    assert cap[after_cut] == pytest.approx((1 - CUT) * cap[at_review - 1], rel=0.03)


@pytest.mark.parametrize("cycle", [12.0, 24.0, 36.0])
def test_period_follows_the_budget_cycle(kernel, cycle):
    # a 50 % cut of F x P = 2P leaves P, below every later peak, so the outage comes at the
    # first peak after each review: one outage per budget cycle (cycle a multiple of 12)
    r = simulate(kernel, scenario="trigger", params={"Budget cycle": cycle})
    assert np.allclose(np.diff(outage_starts(r)), cycle, atol=0.5)


@pytest.mark.parametrize("params", [{"Budget cut fraction": 0.25},
                                    {"Post-mortem safety factor": 3.0}])
def test_period_from_safety_factor_cut_and_growth(kernel, params):
    r = simulate(kernel, scenario="trigger", params=params)
    q = {**P, **params}
    years = recurrence_years(q["Post-mortem safety factor"], q["Budget cut fraction"], G)
    assert years == 2                          # 1.6^2 = 2.56 > 2; 2.4^2 = 5.76 > 3
    assert np.allclose(np.diff(outage_starts(r)), 12 * years, atol=0.5)


def test_cost_attribution_alone_stops_the_cuts_so_only_growth_brings_outages(kernel):
    r = simulate(kernel, scenario="cost attribution only")
    years = math.ceil(math.log(F) / math.log(1 + G))   # 2P outgrown after ln2/ln1.2 = 3.8 -> 4
    assert np.allclose(np.diff(outage_starts(r)), 12 * years, atol=0.5)


def test_load_testing_alone_leaves_only_the_first_unseen_peak(kernel):
    # planners size for last year's peak x (1 + g) x 1.2: only the first peak is a surprise
    starts = outage_starts(simulate(kernel, scenario="load testing only"))
    assert len(starts) == 1 and starts[0] < 12


def test_fixed_never_fails_and_costs_far_less(kernel):
    trig = simulate(kernel, scenario="trigger")
    fixed = simulate(kernel, scenario="fixed")
    assert fixed["Outage time"][0, -1] == 0
    assert trig["Outage time"][0, -1] * 30.4 > 10 * 2     # about 3 days at each of 10 peaks
    # the trigger holds between P and 2P (P = 10x normal) after the first outage, the fixed
    # fleet about 1-2x normal plus peak-only autoscaling: at least 4x cheaper
    assert fixed["Capacity cost"][0, -1] < trig["Capacity cost"][0, -1] / 4


def test_named_loops_are_balancing():
    loops = {l.name: l.polarity for l in find_loops(capacity_spiral.build(), scenario="trigger")
             if l.name}
    assert loops == {"Routine capacity planning": "B", "Post-mortem over-provisioning": "B",
                     "Cost cutting": "B"}
