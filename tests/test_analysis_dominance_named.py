"""Which loops a story is told with: the named ones (even where discovery misses them), and
for a variable, the loops through it rather than every loop upstream."""
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


def feeder_and_grower() -> Model:
    """Stock 'Queue' fills from a constant and drains fast (its own B loop); stock 'Users'
    grows by word of mouth (its own R loop) plus a trickle from the queue. Each loop is
    alone in its cycle partition, so both relative scores are +-1 while they move."""
    m = Model("feeder", stop=5, dt=0.125)
    q = m.stock("Queue", initial=0)
    m.flow("Arrivals", 5, into=q)
    m.flow("Drain", 10 * q, out_of=q)
    users = m.stock("Users", initial=10)
    m.flow("Word of mouth", 0.05 * users + 0.01 * q, into=users)
    m.name_loop("Growth", ["Users", "Word of mouth"])
    m.name_loop("Queue drains", ["Queue", "Drain"])
    return m


def test_phases_of_a_variable_count_the_loops_through_it():
    d = dominance(feeder_and_grower())
    assert d.relative.abs().max().to_dict() == {l.id: 1.0 for l in d.loops}
    # the drain is upstream of Users but moves it only through the trickle link: the
    # story of Users is its own loop, all of the change, over the whole run
    ph = d.phases("Users")
    assert list(ph["names"]) == ["Growth"] and ph["share"].iloc[0] == 1.0
    # the queue settles at 5 / 10 within a second (time constant 0.1): then nothing moves
    assert list(d.phases("Queue")["names"]) == ["Queue drains", "no loop active"]


def test_a_capped_loop_listing_keeps_every_named_loop():
    import warnings
    from sdmodels import ModelWarning, find_loops
    m = two_paths()
    m.name_loop("Strong path", ["P", "Strong"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        loops = find_loops(m, max_loops=1, behaviour=False)   # the cap stops after one
    assert not loops.complete and len(loops) == 2
    assert sorted(l.name for l in loops) == ["Strong path", "Weak path"]
    assert all(l.polarity == "B" for l in loops)


def test_a_loop_held_by_a_clamp_is_cut_at_the_clamp():
    from sdmodels import maximum
    from sdmodels.analysis.phases import still_links
    m = Model("spill", stop=10, dt=0.25)
    s = m.stock("Water", initial=10)
    m.flow("Rain", 5, into=s)
    over = m.aux("Overflow", maximum(0, s - 1000))       # the water never reaches 1000
    m.flow("Spill", 0.1 * over, out_of=s)
    m.name_loop("Spill way", ["Water", "Overflow"])
    d = dominance(m)
    loop = next(l for l in d.loops if l.name == "Spill way")
    assert not d.relative[loop.id].any()
    # Overflow stays 0: Water -> Overflow never changes it, so neither Overflow -> Spill
    # nor Spill -> Water (Spill stays 0) ever passes a change on
    assert still_links(d, loop) == [("water", "overflow"), ("overflow", "spill"),
                                    ("spill", "water")]


def test_a_discrete_counter_is_memory_not_a_loop_that_drives():
    from sdmodels import delay_fixed
    from sdmodels.analysis.phases import state_memory
    from sdmodels.expr import Ref
    m = Model("counter", stop=5, dt=0.25)
    # a counter kept as a controller keeps its state: Count = Next count one step ago
    count = m.aux("Count", delay_fixed(Ref("next_count"), m.dt_expr, 0))
    m.aux("Next count", count + 1)
    level = m.stock("Level", initial=100)
    m.flow("Drain", level / 2, out_of=level)
    d = dominance(m)
    memory = [l for l in d.loops if state_memory(l)]
    assert [l.names for l in memory] == [("Count", "Next count")]
    # it moves at every step but the first, where the pipeline gives up its initial value
    # for Next count's first one: a change no change before it passed round the loop
    assert d.relative[memory[0].id].iloc[1:].abs().min() > 0
    assert d.relative[memory[0].id].iloc[0] == 0
    # ... but the story is the drain's, and the memory is not listed among the strongest
    assert list(d.phases()["names"]) == ["B1"] and d.phases()["share"].iloc[0] == 1.0
    assert list(d.summary()["loop"]) == ["B1"]
