"""A loop held at its controller's limit: what Loops That Matter scores, and what the
postmortem says of it.

The model: pods P (one stock, Euler, dt = one policy period); the latency rises with the
pods (1 + P/4, the starved pods' share), the controller wants P x latency pods, and its
policy lets the pods at most double a period: P(n+1) = min(P (1 + P/4), 2 P). Below P = 4
the wanted pods bind; above, the doubling does, while the wanted pods run ever further past
it (P (1 + P/4) / 2P = (1 + P/4) / 2). Expected values from that recurrence by hand.
"""
import math

import pytest

from sdmodels import Model, minimum
from sdmodels.analysis.dominance import dominance
from sdmodels.analysis.phases import capped_links, takeover_order
from sdmodels.postmortem_loops import never_led, takeover_table

STOP = 10


def closed_form():
    p = [1.0]
    for _ in range(STOP):
        p.append(min(p[-1] * (1 + p[-1] / 4), 2 * p[-1]))
    return p


def capped_model():
    m = Model("capped controller", stop=STOP, dt=1)
    pods = m.stock("Pods", initial=1)
    latency = m.aux("Latency", 1 + pods / 4)
    wanted = m.aux("Wanted", pods * latency)
    limit = m.aux("Policy limit", 2 * pods)
    m.flow("Scale up", minimum(wanted, limit) - pods, into=pods)
    m.name_loop("Pods ask for pods", ["Pods", "Wanted", "Scale up"])
    m.name_loop("Latency asks for pods", ["Pods", "Latency", "Wanted", "Scale up"])
    m.name_loop("Policy doubles the pods", ["Pods", "Policy limit", "Scale up"])
    return m


@pytest.fixture(scope="module")
def capped():
    return dominance(capped_model())


def _loop(d, name):
    return next(l for l in d.loops if l.name == name)


def test_the_pods_follow_the_recurrence(capped):
    p = closed_form()
    got = capped.variables["Pods"].to_numpy()
    assert got == pytest.approx(p[:len(got)], rel=1e-12)
    bound = next(n for n in range(STOP) if p[n] > 4)            # the limit binds from here
    assert bound == 5 and all(p[n + 1] == 2 * p[n] for n in range(bound, STOP))


def test_while_held_only_the_policy_loop_and_the_outflow_score(capped):
    # held at the limit from P = 6.99 (t = 5). From t = 6 the wanted pods, held at their old
    # value, exceed the new limit (P (1 + P/4) >= 4 P once P >= 12), so the limit passes its
    # whole change on: Scale up = limit - P changes by 2 dP - dP, the limit's part 2 dP and
    # the outflow's -dP: relative scores +2/3 and -1/3, the wanted pods' loops 0
    rel = capped.relative.loc[6:]
    policy = _loop(capped, "Policy doubles the pods").id
    assert rel[policy].to_numpy() == pytest.approx([2 / 3] * len(rel), abs=1e-9)
    outflow = next(l.id for l in capped.loops if l.length == 2)
    assert rel[outflow].to_numpy() == pytest.approx([-1 / 3] * len(rel), abs=1e-9)
    for name in ("Pods ask for pods", "Latency asks for pods"):
        assert (rel[_loop(capped, name).id] == 0).all()


def test_the_held_link_and_its_bound_are_found(capped):
    p = closed_form()
    rows = len(capped.variables)                    # reported times; the last ends none
    (held,) = capped_links(capped, _loop(capped, "Latency asks for pods"))
    assert (held.cause, held.effect, held.bound) == ("Wanted", "Scale up", "Policy limit")
    assert held.first == 5 and held.last == rows - 2 and held.times == rows - 1 - 5
    assert held.beyond == pytest.approx((1 + p[rows - 2] / 4) / 2, rel=1e-3)
    # and the other way round before: the wanted pods bound (P <= 4, t = 0..4) and the
    # limit, 2 P against P (1 + P/4), stood above them by 2 / (1 + P/4): 1.6 at P = 1
    (under,) = capped_links(capped, _loop(capped, "Policy doubles the pods"))
    assert (under.cause, under.bound, under.first, under.last) == (
        "Policy limit", "Wanted", 0.0, 4.0)
    assert under.beyond == pytest.approx(2 / (1 + p[0] / 4))


def test_the_postmortem_says_the_loop_was_held_at_the_limit(capped):
    order = takeover_order(capped, "Pods")
    assert list(order["name"]) == ["Pods ask for pods", "Policy doubles the pods"]
    page = never_led(capped, "Pods", order)
    assert "Latency asks for pods" in page and "held at a bound" in page
    assert "Scale up followed Policy limit instead of Wanted at 4 of the" in page
    assert "from 5.0 to 8.0" in page
    p = closed_form()
    assert f"up to {(1 + p[8] / 4) / 2:.3g} times" in page
    # the take-over table keeps it in its place: it first acted at t = 0, before the policy
    table = takeover_table(capped, "Pods", order)
    rows = table.split("<tr>")[2:]
    assert [r.split("<td>")[2].split("<")[0] for r in rows] == [
        "Latency asks for pods", "Pods ask for pods", "Policy doubles the pods"]
    assert "never (held, see below)" in rows[0]
    assert math.isclose(float(order["first"].iloc[1]), 5.0)


def test_the_page_draws_the_held_loop_and_tells_its_place(capped, tmp_path):
    from sdmodels.postmortem import write_postmortem
    page = write_postmortem(capped_model(), tmp_path, variable="Pods").read_text()
    held = _loop(capped, "Latency asks for pods").id
    assert (tmp_path / f"loop_{held}.svg").exists()          # drawn, though it never led
    assert f"<h2>{held} Latency asks for pods</h2>" in page
    table = page[page.index("in the order they took over"):page.index("</table>")]
    assert table.index("Latency asks for pods") < table.index("Policy doubles the pods")
