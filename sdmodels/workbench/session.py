"""The workbench's core, free of any web framework: one opened model and what the page asks
of it (runs, loops, the diagram, sweeps, exports). The web server and the notebook widget
both drive a `Workbench`, so they show the same numbers.

A model opened here answers at once through the interpreter (its instruction tape is
written in milliseconds); when one interpreted run takes longer than KERNEL_AFTER_MS, the
model's compiled kernel is built in a background thread and slider runs switch to it once it
is ready (several times faster per step). Composed system descriptions too: their kernel is
written in parts that numba compiles one by one (sdmodels/kernel_layout.py), and a save
that changes only numbers kept as parameters has the same kernel text, so its curves come
from the kernel at once (`compiled_kernel`). Sweeps use the kernel once it is ready; before,
grids of up to MAX_INTERPRETED_SWEEP_RUNS run on the interpreter and larger ones wait for it
(engine="interpreter": the interpreter always). Parameters are passed at run time, so a
slider move never recompiles. SDMODELS_BACKGROUND_COMPILE=0 compiles nothing aside (the test
suite). Everything goes through the public API (`sdmodels.simulate`, `find_loops`,
`to_graphviz`, `sdmodels.analysis`).

>>> from sdmodels import Model
>>> m = Model("decay", stop=4, dt=1)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s / m.constant("Lifetime", 2, units="s"), out_of=s)
>>> wb = Workbench(m)
>>> wb.run({"Lifetime": "1 + 1"})["series"]["Amount"]
[100.0, 50.0, 25.0, 12.5, 6.25]
"""
from __future__ import annotations

import io
import math
import threading
import time
from typing import Mapping, Sequence

import numpy as np

from sdmodels.elements import Stock, canonical
from sdmodels.errors import ModelError, UnknownNameError, did_you_mean
from sdmodels.workbench.dominance import available as dominance_available
from sdmodels.workbench.dominance import loop_dominance
from sdmodels.workbench.values import InvalidValueError, ParameterSpec, parameter_specs, read_value

MAX_POINTS = 2000          # saved points sent to the page per series (the rest thinned)
MAX_SWEEP_RUNS = 2500      # a sweep panel grid is small: it answers in a second or two
MAX_INTERPRETED_SWEEP_RUNS = 120   # without a kernel (engine="interpreter"), fewer runs
KERNEL_AFTER_MS = 15.0     # an interpreted run slower than this compiles the kernel aside
DEFAULT_PLOTS = 6


def _finite_list(a: np.ndarray) -> list:
    """A JSON-safe list: NaN and inf become None."""
    a = np.asarray(a, dtype=float)
    if np.isfinite(a).all():
        return a.tolist()
    return [float(x) if math.isfinite(x) else None for x in a.tolist()]


#: roles of composed elements plotted first (library/compose: Node.roles)
KEY_ROLES = ("utilization", "latency", "connections", "backlog", "goodput")


def _engine_of(runner) -> str:
    from sdmodels.compile import Kernel
    return "compiled" if isinstance(runner, Kernel) else "interpreter"


class Workbench:
    """One model opened for a modelling session: prepared once, run on every slider move
    (by the interpreter, or by its kernel once compiled aside; see the module doc)."""

    def __init__(self, model, *, title: str | None = None,
                 key_outputs: Sequence[str] | None = None, method: str = "euler",
                 engine: str = "auto", warm: bool = True, sweeps_wait: bool = True,
                 description: str | None = None):
        from sdmodels import build, compile
        from sdmodels.compile import compiled_kernel
        from sdmodels.engine import check_engine
        from sdmodels.tape import prepare
        check_engine(engine)
        self.ir = build(model)
        self.method, self.engine = method, engine
        self.sweeps_wait = sweeps_wait      # a large sweep waits for the kernel to compile
        self._description = description     # a system description's text: compiled aside
        self.program = prepare(self.ir, method=method)     # the tape: milliseconds
        self._kernel = compile(self.ir, method=method) if engine == "compiled" else None
        if engine == "auto" and description is not None:     # a save of other numbers: the
            self._kernel = compiled_kernel(self.ir, method=method)   # kernel compiled before
        self._compiling: threading.Thread | None = None
        self.title = title or self.ir.name
        self.parameters: list[ParameterSpec] = parameter_specs(self.ir)
        # by id and by display name: a module's constant is "Traffic source / Ramp start" on
        # the page but "traffic.ramp_start" in the model (the module's id is not its title)
        self._specs = {key: p for p in self.parameters for key in (p.id, canonical(p.name))}
        self.outputs = [v.display for v in self.ir.variables.values() if not v.internal]
        stocks = [v.display for v in self.ir.of_kind(Stock) if not v.internal]
        chosen = [self.ir.variables[canonical(o)].display for o in (key_outputs or ())
                  if canonical(o) in self.ir.variables]
        self.key_outputs = chosen or stocks[:DEFAULT_PLOTS] or self.outputs[:DEFAULT_PLOTS]
        self._lock = threading.Lock()
        self._loops = None
        self._importance: dict[str, float] = {}
        self._svg: dict[str, bytes] = {}
        if warm:            # the first call loads the interpreter: do it before a page asks
            self.run()

    @classmethod
    def open(cls, spec: str, **options) -> "Workbench":
        """A library name, a .py file with build(), a .mdl/.xmile file (as `sdm run` takes), or
        a system description (.yaml or .toml, composed from the library's parts; interpreter only)."""
        import importlib

        from sdmodels.sources import SYSTEM_FILE_SUFFIXES, library_names, load_model
        if spec.endswith(SYSTEM_FILE_SUFFIXES):
            from pathlib import Path

            from library.compose import compose
            text = Path(spec).read_text(encoding="utf-8")
            return cls.of_composition(compose(spec), description=text, **options)
        key_outputs = None
        if spec in library_names():
            key_outputs = getattr(importlib.import_module(f"library.{spec}"), "KEY_OUTPUTS", None)
        return cls(load_model(spec), key_outputs=key_outputs, **options)

    @classmethod
    def of_composition(cls, composition, **options) -> "Workbench":
        """A composed system description: its services' utilisation and latency as the key
        outputs; the interpreter answers until its kernel is compiled aside (in a child
        process when `description`, the description's text, is given)."""
        ranked = sorted(composition.roles.items(),
                        key=lambda item: KEY_ROLES.index(item[1][1]) if item[1][1] in KEY_ROLES
                        else len(KEY_ROLES))
        keys = [eid for eid, (_, role) in ranked if role in KEY_ROLES][:DEFAULT_PLOTS]
        options.setdefault("sweeps_wait", False)        # its kernel takes tens of seconds
        return cls(composition.model, key_outputs=keys, **options)

    # ----------------------------------------------------------------- engines
    @property
    def kernel(self):
        """The compiled kernel (compiled now if it is not ready yet)."""
        from sdmodels import compile
        if self._compiling is not None:
            self._compiling.join()
        if self._kernel is None:
            self._kernel = compile(self.ir, method=self.method)
        return self._kernel

    def _compile_aside(self) -> None:
        from sdmodels import compile
        from sdmodels.engine import background_compile
        if self._compiling is not None or self._kernel is not None or not background_compile():
            return

        def work():
            from sdmodels import simulate
            from sdmodels.compile import kernel_on_disk
            from sdmodels.workbench.compile_aside import compile_in_child
            if self._description is not None and not kernel_on_disk(self.ir, method=self.method):
                compile_in_child(self._description, method=self.method)   # fills the disk
            try:                                                          # cache: loaded below
                kernel = compile(self.ir, method=self.method)
                # numba compiles (or loads) at the first call: make it here, not on a slider
                simulate(kernel, engine="compiled", stop=self.ir.start + self.ir.dt)
            except Exception:     # noqa: BLE001 - the interpreter goes on answering; a
                return            # sweep compiles again in the foreground and reports it
            self._kernel = kernel
        self._compiling = threading.Thread(target=work, daemon=True,
                                           name=f"workbench-compile-{self.ir.name}")
        self._compiling.start()

    @property
    def runner(self):
        """What runs a slider move now: the kernel once it is ready, else the interpreter."""
        return self._kernel if self._kernel is not None else self.program

    # ----------------------------------------------------------------- description
    def describe(self) -> dict:
        """What the page needs to draw its controls: parameters, scenarios, outputs."""
        ir = self.ir
        scenarios = []
        for s in ir.scenarios.values():
            values, skipped = {}, []    # an arrayed constant has no slider: said, not lost
            for name, value in s.params:
                spec = self._specs.get(canonical(str(name)))
                if spec is not None:
                    values[spec.name] = float(value)
                else:
                    skipped.append(str(name))
            scenarios.append({"name": s.name, "doc": s.doc, "values": values,
                              "skipped": skipped})
        return {"name": ir.name, "title": self.title, "time_units": ir.time_units,
                "start": ir.start, "stop": ir.stop, "dt": ir.dt,
                "parameters": [p.to_dict() for p in self.parameters],
                "scenarios": scenarios, "key_outputs": list(self.key_outputs),
                "outputs": self.outputs, "trigger": self.trigger_names(),
                "engine": _engine_of(self.runner), "dominance": dominance_available()}

    def trigger_names(self) -> list[str] | None:
        """The parameters that time a trigger ("Trigger start", "Trigger duration"), if any."""
        names = [self._specs.get(canonical(n)) for n in ("Trigger start", "Trigger duration")]
        return [s.name for s in names] if all(names) else None

    # ----------------------------------------------------------------- values
    def values(self, given: Mapping[str, object] | None) -> dict[str, float]:
        """{display name: number} from the page's {name: number or equation text}; every
        name checked, text parsed by sdmodels' parser, limits enforced (InvalidValueError)."""
        given = dict(given or {})
        known = {p.id: p.default for p in self.parameters}
        names = {p.id: p.name for p in self.parameters}
        resolved: dict[str, float] = {}
        pending = []
        for name, raw in given.items():
            key = canonical(str(name))
            spec = self._specs.get(key)
            if spec is None:
                raise UnknownNameError(f"'{name}' is not a parameter of model '{self.ir.name}'."
                                       f"{did_you_mean(str(name), [p.name for p in self.parameters])}")
            if isinstance(raw, str):
                pending.append((spec, raw))
            else:
                resolved[spec.name] = known[spec.id] = read_value(spec, raw, known)
        for spec, raw in pending:            # text may name the numbers given with it
            resolved[spec.name] = known[spec.id] = read_value(spec, raw, known, names)
        return resolved

    def _saveper(self) -> float | None:
        points = (self.ir.stop - self.ir.start) / self.ir.saveper
        if points <= MAX_POINTS:
            return None
        every = math.ceil(points / MAX_POINTS)
        return self.ir.saveper * every

    # ----------------------------------------------------------------- runs
    def simulate(self, values: Mapping[str, object] | None = None, *,
                 outputs: Sequence[str] | None = None, full: bool = False):
        """`sdmodels.simulate` of the kept kernel with these values (one run)."""
        return self._simulate(self.values(values), outputs=outputs, full=full)

    def _simulate(self, params: dict[str, float], *, outputs=None, full: bool = False,
                  runner=None):
        from sdmodels import simulate
        runner = runner or self.runner
        return simulate(runner, params=params, outputs=outputs, engine=_engine_of(runner),
                        saveper=None if full else self._saveper())

    def run(self, values: Mapping[str, object] | None = None, *,
            outputs: Sequence[str] | None = None) -> dict:
        """One run as the page plots it: times, {column: series}, and the values used."""
        began, cpu = time.perf_counter(), time.thread_time()
        outputs = list(outputs) if outputs else list(self.key_outputs)
        params = self.values(values)
        runner = self.runner
        results = self._simulate(params, outputs=outputs, runner=runner)
        if self.engine == "auto" and (time.thread_time() - cpu) * 1000 > KERNEL_AFTER_MS:
            self._compile_aside()        # once: later calls find it started or done
        series = {c: _finite_list(results.data[0, :, k]) for k, c in enumerate(results.columns)}
        return {"times": results.times.tolist(), "series": series, "values": params,
                "run_ms": round((time.perf_counter() - began) * 1000, 3),
                "run_cpu_ms": round((time.thread_time() - cpu) * 1000, 3),
                "engine": _engine_of(runner)}

    def to_csv(self, runs: Mapping[str, Mapping[str, object]]) -> str:
        """Runs as CSV: columns run, time, the key outputs, then every other variable; one
        block of rows per named run, at the model's own saved times."""
        import pandas as pd
        frames = []
        for label, values in runs.items():
            frame = self.simulate(values, full=True).to_pandas().reset_index()
            frame.insert(0, "run", label)
            frames.append(frame)
        if not frames:
            raise ModelError("nothing to export: give at least one run")
        table = pd.concat(frames, ignore_index=True)
        first = ["run", "time"] + [c for c in table.columns if c.split("[")[0] in self.key_outputs]
        table = table[first + [c for c in table.columns if c not in first]]
        out = io.StringIO()
        table.to_csv(out, index=False)
        return out.getvalue()

    # ----------------------------------------------------------------- loops, diagram
    def loop_set(self):
        """The model's loops (found once): Johnson's enumeration, or the shortest
        independent loop set when a model has too many loops to list."""
        with self._lock:
            if self._loops is None:
                import warnings

                from sdmodels import find_loops, link_polarities
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    signs = link_polarities(self.ir)       # the runs once, for both
                    loops = find_loops(self.ir, max_loops=300, polarities=signs)
                    if not loops.complete:
                        loops = find_loops(self.ir, method="independent", polarities=signs)
                self._loops = loops
            return self._loops

    def loops(self) -> list[dict]:
        """The loop table: id, name, R/B, variables, links (ids, for the diagram), delays;
        named loops first (the ones a person looks for), each group in the loop set's order."""
        rows = []
        for loop in sorted(self.loop_set(), key=lambda loop: not loop.name):
            rows.append({**loop.to_dict(), "edges": [list(e) for e in loop.edges],
                         "nodes": list(loop.variables),
                         "delay": (None if not loop.delays else
                                   loop.total_delay if loop.total_delay is not None
                                   else "variable"),
                         "importance": self._importance.get(loop.id)})
        return rows

    def dominance(self, values: Mapping[str, object] | None = None) -> dict | None:
        """Loop dominance over one run with these values (None when `sdmodels.analysis` has
        no dominance function); its mean |relative score| per loop fills the loop table's
        importance column from then on."""
        found = loop_dominance(self.ir, self.loop_set(), self.values(values))
        if found is not None:
            self._importance = found["importance"]
        return found

    def diagram(self, format: str = "svg", *, loop: str | None = None) -> bytes:  # noqa: A002
        """The causal-loop diagram drawn by Graphviz (svg, png or dot), one loop highlighted
        if asked; cached per (format, loop)."""
        from sdmodels import to_graphviz
        loops = self.loop_set()
        chosen = (loops[loop].id,) if loop else ()
        key = f"{format}:{','.join(chosen)}"
        if key not in self._svg:
            self._svg[key] = to_graphviz(self.ir, kind="cld", loop_set=loops,
                                         loops=chosen).pipe(format)
        return self._svg[key]

    # ----------------------------------------------------------------- sweeps
    def _sweep_runner(self, runs: int):
        """The kernel once ready; before, the interpreter for a small grid, else the kernel
        (waiting for it: only when `sweeps_wait`, else such a grid is refused); with
        engine="interpreter", the interpreter."""
        if self.engine == "interpreter" or (self._kernel is None and
                                            runs <= MAX_INTERPRETED_SWEEP_RUNS):
            return self.program
        return self.kernel

    def sweep(self, *, output: str, x: str, xs: Sequence[float], y: str | None = None,
              ys: Sequence[float] | None = None,
              values: Mapping[str, object] | None = None) -> dict:
        """Behaviour labels (sdmodels.sweep.labels) over a grid of one or two parameters,
        the others at `values`; one kernel call for the whole grid."""
        from sdmodels import simulate
        from sdmodels.sweep.labels import classify
        base = self.values(values)
        xs = [float(v) for v in xs]
        ys = [float(v) for v in ys] if y else [math.nan]
        if not xs or not ys:
            raise InvalidValueError("a sweep needs at least one value per parameter")
        small = self.engine == "interpreter" or (self._kernel is None and not self.sweeps_wait)
        cap = MAX_INTERPRETED_SWEEP_RUNS if small else MAX_SWEEP_RUNS
        waiting = " until its kernel is compiled" if small and self.engine != "interpreter" else ""
        if len(xs) * len(ys) > cap:
            raise InvalidValueError(f"{len(xs)} x {len(ys)} runs is more than the panel's "
                                    f"{cap} for this model{waiting}; use `sdm sweep` for "
                                    "large designs")
        if canonical(output) not in self.ir.variables:
            raise UnknownNameError(f"output '{output}' is not a variable of model "
                                   f"'{self.ir.name}'.{did_you_mean(output, self.outputs)}")
        grid_x, grid_y = np.meshgrid(xs, ys, indexing="xy")
        axes = [(x, grid_x.ravel())] + ([(y, grid_y.ravel())] if y else [])
        params = {name: np.full(grid_x.size, v) for name, v in base.items()}
        for name, column in axes:
            spec = self._specs.get(canonical(name))
            if spec is None:
                raise UnknownNameError(f"'{name}' is not a parameter of model '{self.ir.name}'."
                                       f"{did_you_mean(name, [p.name for p in self.parameters])}")
            for v in set(column.tolist()):
                read_value(spec, v, {})
            params.pop(spec.name, None)
            params[spec.name] = column
        runner = self._sweep_runner(grid_x.size)
        results = simulate(runner, params=params, outputs=[output], on_failure="mark",
                           saveper=self._saveper(), engine=_engine_of(runner))
        series = results.data[:, :, 0]
        trigger = None
        names = self.trigger_names()
        if names:
            start = params.get(names[0], base.get(names[0], self._specs[canonical(names[0])].default))
            length = params.get(names[1], base.get(names[1], self._specs[canonical(names[1])].default))
            start, length = float(np.min(start)), float(np.max(length))
            trigger = (start, start + length)
        labels = classify(results.times, np.nan_to_num(series), trigger=trigger)["label"]
        labels = labels.astype(str).to_numpy()
        labels[list(results.failures)] = "failed"
        grid = labels.reshape(len(ys), len(xs))
        return {"output": output, "x": x, "xs": xs, "y": y, "ys": ys if y else [],
                "labels": grid.tolist(), "trigger": trigger,
                "counts": {k: int(v) for k, v in zip(*np.unique(labels, return_counts=True))}}
