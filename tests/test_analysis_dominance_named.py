"""Loop discovery on big models always scores the loops the modeller named."""
import numpy as np

from sdmodels import Model
from sdmodels.analysis.dominance import dominance


def two_paths() -> Model:
    """Two balancing loops through one shared variable: P -> Strong -> Sum -> Outflow and
    P -> Weak -> Sum -> Outflow. Strongest-path search reaches Sum first by the strong
    path and abandons the weak one there, so discovery alone never finds the weak loop."""
    m = Model("two paths", stop=10, dt=0.25)
    p = m.stock("P", initial=100)
    total = m.aux("Sum", m.aux("Strong", 2 * p) + m.aux("Weak", 0.01 * p))
    m.flow("Outflow", total / 100, out_of=p)
    m.name_loop("Weak path", ["P", "Weak"])
    return m


def test_a_named_loop_discovery_misses_is_scored_all_the_same():
    d = dominance(two_paths(), max_loops=1)          # 2 loops > 1: discovery is used
    assert any("discovery" in n for n in d.notices)
    named = {l.name: l.id for l in d.loops if l.name}
    assert set(named) == {"Weak path"} and len(d.loops) == 2
    # link scores: Weak -> Sum is 0.01 / 2.01 of Sum's change, Strong -> Sum 2 / 2.01; the
    # other links are 1 and the outflow's -1: relative scores -0.01/2.01 and -2/2.01
    assert np.allclose(d.relative[named["Weak path"]], -0.01 / 2.01, atol=1e-9)
    other = next(l.id for l in d.loops if not l.name)
    assert np.allclose(d.relative[other], -2 / 2.01, atol=1e-9)
