"""Stability: the model linearised around an operating point, and its modes (eigenvalues).

Algorithm: run the scenario, take every variable's value at the chosen time (the operating
point), and build the Jacobian J[i, j] = d(net flow of stock i) / d(stock j) by central
finite differences, all perturbations at once: every variable's value becomes a row of
2n + 1 columns (the operating point, then stock j nudged up and down) and the equations are
re-evaluated once, in the model's evaluation order, with the IR's own expression trees
(the evaluator of `sdmodels.analysis.numeric`, shared with polarity and dominance). The
internal stocks of delays and smooths are ordinary stocks here; the held value of a
discrete controller (a sample-and-hold, a rolling window, a pipeline delay) is held at its
operating-point value, so the modes are those of the continuous part between two
controller ticks.

Each eigenvalue lambda = sigma + i omega is one mode: it decays (sigma < 0) with time
constant -1 / sigma, oscillates when omega != 0 with period 2 pi / |omega|, and its damping
ratio is zeta = -sigma / |lambda| (1 for a real decaying mode, 0 for an undamped
oscillation, negative when it grows).

Which modes matter: models built from parts hold many fluid relaxations (a queue that
settles "within one step", a held value re-read every step: x / dt), whose eigenvalues are
about -1 / dt. They are faster than the step (|lambda| dt >= `SUB_STEP`: settled within
about two steps), so no run can show them, and their number buries the slow modes that do
shape behaviour. `modes(lin, relevant=True)` and `mode_summary` leave them out (and the
neutral ones, |lambda| < `NEUTRAL`: integrators with no dynamics of their own), slowest
first, and say how many were left out; every `Mode` says whether it is `faster_than_step`. References: Forrester, *Industrial Dynamics* (1961),
ch. 17 (oscillation from delays in negative loops); Kampmann & Oliva, "Structural dominance
analysis and theory building in system dynamics", Systems Research and Behavioral Science
25(4), 2008 (eigenvalues of the linearised model as its behaviour modes).

>>> from sdmodels import Model
>>> m = Model("first order", stop=10)
>>> x = m.stock("X", initial=0)
>>> _ = m.flow("Adjust", (10 - x) / 4, into=x)
>>> round(modes(linearize(m))[0].time_constant, 6)
4.0
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sdmodels.elements import Aux, Flow, Lookup, PerElement, Stock
from sdmodels.errors import ModelError
from sdmodels.ir import ModelIR, build

from sdmodels.analysis.behaviour import evaluate
from sdmodels.analysis.numeric import Unsupported

RELATIVE_NUDGE = 1e-6
SUB_STEP = 0.5        # |lambda| x dt at or above this: the mode settles within ~2 steps
NEUTRAL = 1e-6        # |lambda| below this: a neutral (integrating) mode


@dataclass(frozen=True)
class Linearization:
    """The Jacobian of the stocks' net flows at one time of one run."""
    jacobian: np.ndarray          # (n, n): d(net flow i) / d(stock j)
    states: tuple[str, ...]       # display names of the n stock values (Name[elem] for arrays)
    time: float
    values: np.ndarray            # the stocks at the operating point
    step: float = 0.0             # the model's time step (0: unknown)


@dataclass(frozen=True)
class Mode:
    """One eigenvalue of the linearised model, read as a behaviour mode."""
    eigenvalue: complex
    step: float = 0.0             # the model's time step, to tell the sub-step modes

    @property
    def faster_than_step(self) -> bool:
        """|lambda| dt >= SUB_STEP: it settles within about two steps, no run can show it."""
        return self.step > 0 and abs(self.eigenvalue) * self.step >= SUB_STEP

    @property
    def neutral(self) -> bool:
        return abs(self.eigenvalue) < NEUTRAL

    def to_dict(self) -> dict:
        """The JSON form: eigenvalue [re, im], kind, time constant, period, damping ratio."""
        tau = self.time_constant
        return {"eigenvalue": [self.growth_rate, float(self.eigenvalue.imag)],
                "kind": self.kind, "time_constant": tau if np.isfinite(tau) else None,
                "period": self.period, "damping_ratio": self.damping_ratio,
                "faster_than_step": self.faster_than_step}

    @property
    def growth_rate(self) -> float:
        return float(self.eigenvalue.real)

    @property
    def time_constant(self) -> float:
        """1 / |sigma|: the e-folding time of the mode (inf for a neutral one)."""
        sigma = abs(self.eigenvalue.real)
        return float(1.0 / sigma) if sigma > 0 else float("inf")

    @property
    def period(self) -> float | None:
        """2 pi / |omega| for an oscillating mode, else None."""
        omega = abs(self.eigenvalue.imag)
        return float(2 * np.pi / omega) if omega > 1e-12 else None

    @property
    def damping_ratio(self) -> float:
        """-sigma / |lambda|: 1 for a real decaying mode, 0 undamped, < 0 growing."""
        size = abs(self.eigenvalue)
        return float(-self.eigenvalue.real / size) if size > 0 else 0.0

    @property
    def kind(self) -> str:
        grows = self.eigenvalue.real > 1e-12
        if self.period is not None:
            return "growing oscillation" if grows else "damped oscillation"
        return "exponential growth" if grows else "exponential decay"


def linearize(model, *, at: float | None = None, scenario: str | None = None,
              params=None) -> Linearization:
    """The Jacobian of `model` at time `at` (default: the end) of the scenario's run."""
    ir = build(model)
    states = [(s, k) for s in ir.of_kind(Stock) for k in range(_size(ir, s))]
    if not states:
        raise ModelError(f"model '{ir.name}' has no stock: there is nothing to linearise")
    from sdmodels.simulate import simulate
    held = [v for v in ir.variables.values() if not isinstance(v, (Aux, Flow, Lookup))]
    results = simulate(ir, scenario=scenario, params=params, outputs=[v.id for v in held])
    index = len(results.times) - 1 if at is None else int(np.argmin(abs(results.times - at)))
    point = {label: results.data[0, index, i] for i, label in enumerate(results.columns)}
    columns = 2 * len(states) + 1
    env = {v.id: _row(ir, v, point, columns) for v in held}
    values = np.array([env[s.id][..., 0].reshape(-1)[k] for s, k in states])
    nudges = RELATIVE_NUDGE * np.maximum(1.0, np.abs(values))
    for j, (stock, k) in enumerate(states):
        cells = env[stock.id].reshape(-1, columns)
        cells[k, 1 + 2 * j] += nudges[j]
        cells[k, 2 + 2 * j] -= nudges[j]
    times = np.full(columns, results.times[index])
    with np.errstate(all="ignore"):
        for vid in ir.eval_order:
            element = ir.variables[vid]
            if isinstance(element, (Aux, Flow)):
                env[vid] = _evaluate_element(ir, element, env, times, columns)
    net = np.stack([_net_flow(ir, s, env, columns).reshape(-1, columns)[k] for s, k in states])
    jacobian = (net[:, 1::2] - net[:, 2::2]) / (2 * nudges)
    labels = tuple(_label(ir, s, k) for s, k in states)
    return Linearization(jacobian, labels, float(results.times[index]), values, float(ir.dt))


def modes(lin: Linearization, *, relevant: bool = False) -> list[Mode]:
    """The modes of a linearisation, slowest first (largest real part), one per conjugate
    pair (the one with positive imaginary part); `relevant` leaves out the neutral ones and
    those faster than the step (see the module doc)."""
    found = [Mode(complex(v), lin.step) for v in np.linalg.eigvals(lin.jacobian)
             if v.imag >= -1e-12]
    if relevant:
        found = [m for m in found if not (m.neutral or m.faster_than_step)]
    return sorted(found, key=lambda m: (-m.eigenvalue.real, abs(m.eigenvalue.imag)))


def mode_summary(lin: Linearization, *, top: int = 8) -> dict:
    """The modes that matter (at most `top`, slowest first) and what was left out.

    >>> from sdmodels import Model
    >>> m = Model("slow and fast", stop=10, dt=0.25)
    >>> x = m.stock("X", initial=0)
    >>> _ = m.flow("Adjust", (10 - x) / 4, into=x)
    >>> y = m.stock("Y", initial=0)
    >>> _ = m.flow("Track", (x - y) / 0.1, into=y)     # 0.1 s: faster than the 0.25 s step
    >>> s = mode_summary(linearize(m))
    >>> [round(x["time_constant"], 6) for x in s["modes"]], s["faster_than_step"]
    ([4.0], 1)
    """
    every = modes(lin)
    shown = [m for m in every if not (m.neutral or m.faster_than_step)]
    return {"time": lin.time, "step": lin.step, "states": len(lin.states),
            "modes": [m.to_dict() for m in shown[:top]], "more": max(0, len(shown) - top),
            "faster_than_step": sum(m.faster_than_step for m in every),
            "neutral": sum(m.neutral and not m.faster_than_step for m in every)}


# --------------------------------------------------------------------------- internals
def _size(ir: ModelIR, element) -> int:
    return int(np.prod([len(ir.dims[d].elements) for d in element.dims])) if element.dims else 1


def _keys(ir: ModelIR, element):
    return list(itertools.product(*(ir.dims[d].elements for d in element.dims)))


def _label(ir: ModelIR, element, k: int) -> str:
    if not element.dims:
        return element.display
    return f"{element.display}[{','.join(_keys(ir, element)[k])}]"


def _row(ir: ModelIR, element, point, columns: int) -> np.ndarray:
    """The element's operating-point value repeated over the perturbation columns."""
    values = np.array([point[_label(ir, element, k)] for k in range(_size(ir, element))])
    row = np.repeat(values[:, None], columns, axis=1)
    return row[0] if not element.dims else row


def _evaluate_element(ir: ModelIR, element, env, times, columns: int) -> np.ndarray:
    equation = element.equation
    try:
        if not element.dims:
            return np.broadcast_to(np.asarray(
                evaluate(equation, env, env, ir, times, ir.dt), dtype=float), (columns,)).copy()
        per = equation.as_dict() if isinstance(equation, PerElement) else None
        rows = [evaluate(per[key] if per else equation, env, env, ir, times, ir.dt,
                         dict(zip(element.dims, key))) for key in _keys(ir, element)]
        return np.stack([np.broadcast_to(np.asarray(r, dtype=float), (columns,)) for r in rows])
    except Unsupported as exc:
        raise ModelError(f"cannot linearise model '{ir.name}': the equation of "
                         f"'{element.display}' uses {exc.what}, which the linearisation does not "
                         "evaluate; remove it or hold it in a constant for the analysis") from None


def _net_flow(ir: ModelIR, stock, env, columns: int) -> np.ndarray:
    shape = (_size(ir, stock), columns) if stock.dims else (columns,)
    total = np.zeros(shape)
    for sign, flows in ((1.0, stock.inflows), (-1.0, stock.outflows)):
        for f in flows:
            total = total + sign * np.broadcast_to(env[f], shape)
    return total


#: one step's factor on a mode e^(lambda t) at z = lambda dt: Euler's 1 + z, RK4's Taylor
#: polynomial of e^z to the fourth order (Hairer, Norsett & Wanner, *Solving Ordinary
#: Differential Equations I*, 1993, sec. II.7: the stability function)
STEP_FACTOR = {"euler": lambda z: 1 + z,
               "rk4": lambda z: 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24}
MAX_STOCKS = 400      # a larger model is not linearised for a step check (its work grows as n^2)


def _decaying(lin: Linearization) -> list[complex]:
    """The modes a step check weighs: those that decay, but not faster than the model's own
    step (fluid relaxations written x / dt, whose eigenvalue follows the step)."""
    return [complex(lam) for lam in np.linalg.eigvals(lin.jacobian)
            if lam.real < -NEUTRAL and not (lin.step > 0 and abs(lam) * lin.step >= SUB_STEP)]


def _misstepped(modes: list[complex], dt: float, method: str) -> list[complex]:
    """The `modes` a step of `dt` does not decay (|R(lambda dt)| >= 1), or whose real decay
    it turns into a sign flip every step (R < 0)."""
    factor = STEP_FACTOR[method]
    return [lam for lam in modes if abs(r := complex(factor(lam * dt))) >= 1
            or (abs(lam.imag) < NEUTRAL and r.real < 0)]


def step_note(lin: Linearization, dt: float, method: str = "euler", *, name: str = "",
              units: str = "") -> str | None:
    """The warning for a time step too long for the model's modes around `lin`, or None:
    a mode that decays in the model grows, or flips sign every step, in the run.

    >>> from sdmodels import Model
    >>> m = Model("cup", stop=10, dt=0.25)
    >>> x = m.stock("X", initial=0)
    >>> _ = m.flow("Adjust", (10 - x) / 4, into=x)
    >>> lin = linearize(m, at=0)
    >>> step_note(lin, 2.0) is None, step_note(lin, 5.0, "rk4") is None
    (True, True)
    >>> print(step_note(lin, 5.0, name="cup", units="second"))
    dt=5 is too long a step for euler in model 'cup': its mode with time constant 4 seconds (eigenvalue -0.25) is multiplied by -0.25 every step instead of decaying smoothly, so the run swings where the model does not. Use dt <= 4 or --method rk4
    """
    modes = _decaying(lin)
    bad = _misstepped(modes, dt, method)
    if not bad:
        return None
    worst = max(bad, key=abs)
    low, high = 0.0, dt                      # the longest step that leaves no mode misstepped
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if not _misstepped(modes, mid, method) else (low, mid)
    safe = float(f"{low:.2g}")
    other = "rk4" if method == "euler" and not _misstepped(modes, dt, "rk4") else None
    r = complex(STEP_FACTOR[method](worst * dt))
    shown = f"{r.real:.3g}" if abs(r.imag) < 1e-12 else f"a factor of size {abs(r):.3g}"
    unit = f" {units}" + ("s" if not units.endswith("s") else "") if units else ""
    return (f"dt={dt:g} is too long a step for {method} in model '{name}': its mode with time "
            f"constant {-1 / worst.real:.3g}{unit} (eigenvalue {worst.real:.3g}"
            + (f" +/- {abs(worst.imag):.3g}i" if abs(worst.imag) >= NEUTRAL else "")
            + f") is multiplied by {shown} every step instead of decaying smoothly, so the run "
            f"swings where the model does not. Use dt <= {safe:g}"
            + (f" or --method {other}" if other else ""))


def step_warning(ir: ModelIR, dt: float, method: str) -> str | None:
    """`step_note` for `ir` linearised at its start, or None (also when the model is too
    large to linearise cheaply or cannot be linearised)."""
    n = sum(_size(ir, s) for s in ir.of_kind(Stock))
    if not 0 < n <= MAX_STOCKS:
        return None
    try:
        lin = linearize(ir, at=ir.start)
    except (ModelError, Unsupported, ArithmeticError, ValueError):
        return None
    return step_note(lin, dt, method, name=ir.name, units=ir.time_units or "")
