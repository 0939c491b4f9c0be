"""The compiled array built-ins (sdmodels/_vectors.py) on cases worked out by hand.

Each helper returns element k of its result; vectors come as (array, index) pairs. The
suite files that use them through import and the kernel (allocate_*, vector_order,
vector_select) run in tests/test_conformance.py.
"""
import numpy as np
import pytest

from sdmodels._vectors import (allocate_available, allocate_by_priority, vector_rank,
                               vector_reorder, vector_select, vector_sort_order)


def _pair(values):
    values = np.asarray(values, dtype=float)
    return values, np.arange(values.size)


def _by_priority(request, priority, width, supply):
    r, p = _pair(request), _pair(priority)
    return [allocate_by_priority(float(k), width, supply, *r, *p) for k in range(len(request))]


def _available(request, kind, priority, width, avail):
    args = [x for v in (request, kind, priority, width) for x in _pair(v)]
    return [allocate_available(float(k), avail, *args) for k in range(len(request))]


def test_allocate_by_priority_enough_supply_fills_every_request():
    assert _by_priority([3, 6, 2.5], [1, 2, 3], 1.0, 100.0) == [3, 6, 2.5]


def test_allocate_by_priority_strict_when_gap_exceeds_width():
    # gap 10 > width 1: the first takes all it asks (4), the second the rest (2)
    assert _by_priority([4, 4], [10, 0], 1.0, 6.0) == pytest.approx([4, 2], abs=1e-12)


def test_allocate_by_priority_equal_priorities_share_by_request():
    # same priority: shares in proportion to requests 2 : 6 of a supply of 4
    assert _by_priority([2, 6], [5, 5], 1.0, 4.0) == pytest.approx([1, 3], abs=1e-12)


def test_allocate_by_priority_overlap_inside_width():
    # gap 1 / width 2: the second starts once the first has 0.5 * 4 = 2; the last unit of a
    # supply of 3 is then shared 4 : 4 -> [2.5, 0.5]
    assert _by_priority([4, 4], [2, 1], 2.0, 3.0) == pytest.approx([2.5, 0.5], abs=1e-12)


def test_allocate_by_priority_zero_request_gets_nothing_and_order_is_kept():
    # the highest priority (index 2) asks for nothing; index 0 outranks index 1
    out = _by_priority([5, 5, 0], [3, 1, 9], 1.0, 6.0)
    assert out == pytest.approx([5, 1, 0], abs=1e-12)


def test_allocate_available_rectangular_equal_profiles_split_by_request():
    # rectangular demand q0 * (1 - (x - 4) / 2) on (4, 6): total 400 * (1 - (x - 4) / 2) = 200
    # at x = 5, so each target gets half its request
    out = _available([100, 300], [1, 1], [5, 5], [2, 2], 200.0)
    assert out == pytest.approx([50, 150], rel=1e-9)


def test_allocate_available_far_priorities_serve_the_first_fully():
    # profiles at 10 and 1 (width 1) do not overlap: 100 to the first, 50 to the second
    out = _available([100, 100], [1, 1], [10, 1], [1, 1], 150.0)
    assert out == pytest.approx([100, 50], rel=1e-9)


def test_allocate_available_normal_profiles_symmetric():
    # identical normal profiles: by symmetry each gets avail / 2
    out = _available([80, 80], [3, 3], [2, 2], [1, 1], 60.0)
    assert out == pytest.approx([30, 30], rel=1e-9)
    assert sum(_available([80, 50, 20], [4, 4, 4], [1, 2, 3], [1, 1, 1], 70.0)) == \
        pytest.approx(70.0, rel=1e-9)


def test_invalid_allocations_are_nan_so_the_run_stops_there():
    assert np.isnan(_available([10, 10], [0, 0], [1, 1], [1, 1], 5.0)[0])   # no type 0
    assert np.isnan(_available([10, -1], [1, 1], [1, 1], [1, 1], 5.0)[0])
    assert np.isnan(_available([10, 10], [1, 1], [1, 1], [1, 0], 5.0)[0])
    assert np.isnan(_by_priority([4, -4], [2, 1], 1.0, 3.0)[0])
    assert np.isnan(_by_priority([4, 4], [2, 1], 0.0, 3.0)[0])
    assert np.isnan(_by_priority([4, 4], [2, 1], 1.0, -3.0)[0])


def test_sort_order_rank_and_reorder():
    v = [30.0, 10.0, 20.0]
    up = [vector_sort_order(float(k), 1.0, *_pair(v)) for k in range(3)]
    down = [vector_sort_order(float(k), 0.0, *_pair(v)) for k in range(3)]
    assert up == [1, 2, 0] and down == [0, 2, 1]
    assert [vector_rank(float(k), 1.0, *_pair(v)) for k in range(3)] == [3, 1, 2]
    assert [vector_rank(float(k), -1.0, *_pair(v)) for k in range(3)] == [1, 3, 2]
    assert [vector_reorder(i, *_pair(v)) for i in up] == [10, 20, 30]
    assert np.isnan(vector_reorder(7.0, *_pair(v)))


def test_vector_select_actions():
    sel, x = _pair([1, 0, 2]), _pair([3, 5, 4])
    expected = {0: 1 * 3 + 2 * 4, 1: 3 * 8, 2: 3, 3: 8, 4: 11 / 2, 5: 3 * 16,
                6: 7, 7: 12, 8: 3, 9: 4, 10: 3.5}
    for action, value in expected.items():
        assert vector_select(-1.0, float(action), *sel, *x) == pytest.approx(value), action
    none = _pair([0, 0, 0])
    assert vector_select(-12345.0, 0.0, *none, *x) == -12345.0
    assert np.isnan(vector_select(0.0, 11.0, *sel, *x))


def test_vector_builtin_in_a_kernel_with_slots_and_constants():
    """Through the compiler: vectors of model values and of constants (built arrays; the
    gathered form for models kept in array storage runs in the suite's vector_select)."""
    from sdmodels import Model, run
    from sdmodels.expr import Call, Const, Index, Ref
    m = Model("vectors", stop=2, dt=1)
    m.dim("k", ["a", "b", "c"])
    m.constant("Request", [4.0, 4.0, 0.0], dims=("k",))
    m.constant("Priority", [2.0, 1.0, 9.0], dims=("k",))
    req = [Index(Ref("Request"), (e,)) for e in "abc"]
    pri = [Index(Ref("Priority"), (e,)) for e in "abc"]
    m.aux("First", Call("allocate_by_priority", (Const(0.0), Const(2.0), Const(3.0), *req, *pri)))
    m.aux("Second", Call("allocate_by_priority", (Const(1.0), Const(2.0), Const(3.0),
                                                   *req, Const(1.0), Const(0.5), Const(9.0))))
    out = run(m)
    assert out["First"].iloc[-1] == pytest.approx(2.5)     # as the overlap case above
    assert out["Second"].iloc[-1] == pytest.approx(1.0)    # priorities 1, 0.5: gap 0.5 < width


def test_invalid_allocation_in_a_run_names_the_variable():
    from sdmodels import Model, run
    from sdmodels.errors import SDModelsError
    from sdmodels.expr import Call, Const
    m = Model("bad", stop=2, dt=1)
    m.aux("Share", Call("allocate_by_priority", (Const(0.0), Const(0.0), Const(3.0), Const(4.0),
                                                  Const(4.0), Const(2.0), Const(1.0))))
    with pytest.raises(SDModelsError, match="(?s)Share.*a width of 0 or less"):
        run(m)
