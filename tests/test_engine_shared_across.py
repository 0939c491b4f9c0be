"""A subtree several equations of a step compute (tape_shared.across) is computed once a
stage into a register the later equations read: one instruction fewer for each later use,
and the same numbers (the same operation on the same operands)."""
import numpy as np
import pytest

from sdmodels import Model, minimum, simulate
from sdmodels.tape import prepare


def _model(*, same: bool = True, stop: float = 2) -> Model:
    """S' = (min(S k, 2) + 1) - min(S k, 2) / 4; not `same`: Out reads min(k S, 2), another
    tree (the operands the other way round) with the same value."""
    m = Model("shared by two", stop=stop, dt=0.25)
    s = m.stock("S", initial=1)
    k = m.constant("k", 3)
    m.flow("In", minimum(s * k, 2) + 1, into=s)
    m.flow("Out", minimum(s * k if same else k * s, 2) / 4, out_of=s)
    return m


def _stage(program, at: int = 2) -> int:
    seg = program.arrays["seg"]
    return int(seg[at + 1] - seg[at])


@pytest.fixture
def always(monkeypatch):
    """Share across equations in runs of any length (by default only in long ones)."""
    monkeypatch.setattr("sdmodels.tape.ACROSS_STAGES", 0)


@pytest.mark.parametrize("method, at", [("euler", 2), ("rk4", 4)])
def test_a_subtree_two_equations_compute_is_computed_once_a_stage(method, at, always):
    # shared: r = min(S k, 2) (one fused instruction), In = r + 1, Out = r / 4; apart:
    # each flow is a product, then one fused instruction (min and + or /)
    assert _stage(prepare(_model(), method=method), at) == 3
    assert _stage(prepare(_model(same=False), method=method), at) == 4


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_the_shared_subtree_gives_the_same_numbers(method, always):
    result = simulate(_model(), method=method, engine="interpreter")["S"][0]
    s, dt, out = 1.0, 0.25, [1.0]
    for _ in range(8):                            # Euler, as the kernel orders it
        if method == "rk4":
            break
        r = min(s * 3.0, 2.0)
        s = s + dt * ((r + 1) - r / 4)
        out.append(s)
    if method == "euler":
        assert np.array_equal(result, out)
    else:                                         # RK4 of the same derivative
        f = lambda x: (min(3 * x, 2) + 1) - min(3 * x, 2) / 4  # noqa: E731
        for _ in range(8):
            k1 = f(s); k2 = f(s + dt / 2 * k1); k3 = f(s + dt / 2 * k2); k4 = f(s + dt * k3)
            s += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            out.append(s)
        assert np.allclose(result, out, rtol=1e-13, atol=0)


def test_only_runs_of_many_stages_share_across_equations():
    from sdmodels.tape import ACROSS_STAGES
    long_run = ACROSS_STAGES * 0.25                       # that many Euler steps of 0.25
    assert _stage(prepare(_model(stop=long_run))) == 3
    assert _stage(prepare(_model(stop=long_run / 2))) == 4
    assert _stage(prepare(_model(stop=long_run / 2), method="rk4"), 4) == 3   # 4 a step


def _inner(kind: str, *, named: bool = False) -> Model:
    """rho = min(S k, 2) inside busy = (rho + 1) S, which both flows read. "elsewhere": Out
    also reads rho on its own, outside busy; "inside": both flows read busy and theta =
    (rho - 1) k (rho only inside those two). `named`: the same equations with rho, busy and
    theta as auxiliaries (each computed once a step by construction)."""
    m = Model("inner", stop=2, dt=0.25)
    s = m.stock("S", initial=1)
    k = m.constant("k", 3)
    name = (lambda n, e: m.aux(n, e)) if named else (lambda n, e: e)
    rho = name("rho", minimum(s * k, 2))
    busy = name("busy", (rho + 1) * s)
    if kind == "elsewhere":
        m.flow("In", busy / 10, into=s)
        m.flow("Out", busy * (2 - rho) / 10, out_of=s)
    else:
        theta = name("theta", (rho - 1) * k)
        m.flow("In", busy + theta, into=s)
        m.flow("Out", busy * theta / 10, out_of=s)
    return m


@pytest.mark.parametrize("kind", ["elsewhere", "inside"])
@pytest.mark.parametrize("method, at", [("euler", 2), ("rk4", 4)])
def test_an_inner_subtree_is_computed_once_a_stage(kind, method, at, always):
    # as many instructions as with rho, busy and theta named: each computed once a stage
    # (before, "elsewhere" computed rho in both flows, "inside" computed it again in Out
    # and S k apart from the min it fuses into: 7 and 8 instead of 5)
    inline = _stage(prepare(_inner(kind), method=method), at)
    assert inline == _stage(prepare(_inner(kind, named=True), method=method), at)


@pytest.mark.parametrize("kind", ["elsewhere", "inside"])
def test_an_inner_subtree_computed_once_gives_the_same_numbers(kind, always):
    s, dt, out = 1.0, 0.25, [1.0]
    for _ in range(8):                            # Euler, as the kernel orders it
        rho = min(s * 3.0, 2.0)
        busy = (rho + 1) * s
        if kind == "elsewhere":
            s = s + dt * (busy / 10 - busy * (2 - rho) / 10)
        else:
            theta = (rho - 1) * 3.0
            s = s + dt * ((busy + theta) - busy * theta / 10)
        out.append(s)
    for named in (False, True):
        result = simulate(_inner(kind, named=named), engine="interpreter")["S"][0]
        assert np.array_equal(result, out)
