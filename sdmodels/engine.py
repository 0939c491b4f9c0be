"""Which engine runs a model, and the prepared forms of a model kept between calls.

Two engines, one semantics (tests/test_engine_interpreter.py holds them equal):
- the interpreter (sdmodels/tape.py + sdmodels/_interpreter.py): a model becomes an instruction
  tape in time linear in its size (milliseconds), run by one numba function compiled once for
  all models. Every new or edited model answers through it at once.
- the compiled kernel (sdmodels/compile.py): numba code specialised to the model, several
  times faster per step but seconds to minutes to compile (growing faster than the model).

The rule (engine="auto", the default): the kernel when this model's kernel is already compiled
in this process, or when the call is heavy enough to pay for a compile: runs x steps x tape
instructions above COMPILE_ABOVE (about ten seconds of interpreting). Otherwise the interpreter;
and once the interpreter has spent BACKGROUND_AFTER seconds on one model, its kernel compiles in
a background thread, which later calls use when it is ready (SDMODELS_BACKGROUND_COMPILE=0
turns that off: the test suite does, so that its many short runs do not compile aside). A model of more than
COMPILE_MAX_SLOTS values is never compiled on its own (numba's compile of it would take minutes
and gigabytes); engine="compiled" still can. engine="compiled" or
"interpreter" forces one. Sweeps (sdmodels/sweep) compile their kernel.

A Model's prepared forms are cached against the identity of its parts (elements, dims,
scenarios, loop names, time settings): an unchanged model reuses them, any edit (which
replaces an element object or changes a setting) prepares afresh.

>>> from sdmodels import Model
>>> m = Model("decay", stop=2, dt=0.5)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s / m.constant("Lifetime", 1), out_of=s)
>>> prepared(m) is prepared(m)
True
"""
from __future__ import annotations

import contextlib
import gc
import os
import threading
import weakref

from sdmodels._deep import deep_call
from sdmodels.compile import Kernel, compile
from sdmodels.errors import ModelError, not_a_model
from sdmodels.ir import ModelIR, build
from sdmodels.model import Model
from sdmodels.tape import Program, prepare

ENGINES = ("auto", "interpreter", "compiled")
COMPILE_ABOVE = 3e9     # instructions a call would interpret (at ~3 ns each) before auto compiles
BACKGROUND_AFTER = 1.0  # seconds of interpreting one model after which its kernel compiles aside
COMPILE_MAX_SLOTS = 2000  # auto compiles no larger model (a 1,000-stock ring took 362 s CPU)
_BY_MODEL: "weakref.WeakKeyDictionary[Model, Prepared]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class _CollectorPause:
    """Python's cyclic garbage collector paused while a model is built and its tape written
    (nested and from several threads alike; it resumes when the last one ends, unless it was
    off before). Those passes make tens of thousands of small acyclic objects (trees, dicts,
    tuples) that die by reference count; counted as allocations they set off full
    collections over everything the process holds, 25-60 ms in a fresh process after
    `import pandas` (one inside eviction_cascade's first build). Not for compiles: numba
    makes cyclic garbage."""

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


_PAUSED = _CollectorPause()


class Prepared:
    """One model's IR with its tape and compiled kernel per method, each made when first asked."""

    def __init__(self, ir: ModelIR, key: tuple = ()):
        self.ir, self.key = ir, key
        self._programs: dict[str, Program] = {}
        self._kernels: dict[str, Kernel] = {}
        self._interpreted = 0.0                       # seconds spent in the interpreter
        self._compiling: dict[str, threading.Thread] = {}

    def program(self, method: str) -> Program:
        """The instruction tape for `method` (made once)."""
        if method not in self._programs:
            with _PAUSED():
                self._programs[method] = deep_call(prepare, self.ir, method=method)
        return self._programs[method]

    def kernel(self, method: str) -> Kernel:
        """The compiled kernel for `method` (compiled once)."""
        if method not in self._kernels:
            self._kernels[method] = deep_call(compile, self.ir, method=method)
        return self._kernels[method]

    def has_kernel(self, method: str) -> bool:
        return method in self._kernels

    def table(self, method: str, engine: str) -> Program | Kernel:
        """The form to read slots and parameters from: either; no compile unless asked."""
        if engine != "interpreter" and (engine == "compiled" or self.has_kernel(method)):
            return self.kernel(method)
        return self.program(method)

    def choose(self, method: str, engine: str, runs: int, steps: int) -> Program | Kernel:
        """The engine for a call of `runs` runs of `steps` steps (see the module doc)."""
        if engine == "interpreter":
            return self.program(method)
        if engine == "compiled" or self.has_kernel(method):
            return self.kernel(method)
        program = self.program(method)
        work = float(runs) * (steps + 1) * len(program.code)
        return self.kernel(method) if work > COMPILE_ABOVE and self._compilable(program) \
            else program

    @staticmethod
    def _compilable(program: Program) -> bool:
        return len(program.slots) <= COMPILE_MAX_SLOTS

    def interpreted(self, method: str, seconds: float) -> None:
        """Count interpreter time; past BACKGROUND_AFTER, compile the kernel in a thread."""
        self._interpreted += seconds
        if not background_compile():
            return
        if self._interpreted > BACKGROUND_AFTER and method not in self._compiling and \
                self._compilable(self.program(method)):
            worker = threading.Thread(target=self._compile_aside, args=(method,), daemon=True,
                                      name=f"sdmodels-compile-{self.ir.name}")
            self._compiling[method] = worker
            worker.start()

    def _compile_aside(self, method: str) -> None:
        try:
            kernel = deep_call(compile, self.ir, method=method)
        except Exception:       # noqa: BLE001 - the interpreter goes on answering; a
            return              # foreground compile (engine="compiled") reports the error
        self._kernels.setdefault(method, kernel)


def _model_key(model: Model) -> tuple:
    """What `build` reads from a Model, by identity of the (immutable) parts it holds."""
    return (model.name, model.start, model.stop, model.dt, model.saveper, model.time_units,
            model.doc, tuple(model.elements.items()), tuple(model.dims.items()),
            tuple(model.scenarios.items()), tuple(model.loop_names))


def _same(a: tuple, b: tuple) -> bool:
    """Keys equal, with the parts compared by identity (cheap, and never a deep compare)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, tuple) and isinstance(y, tuple):
            if len(x) != len(y) or any(p[0] != q[0] or p[1] is not q[1] if isinstance(p, tuple)
                                       else p is not q for p, q in zip(x, y)):
                return False
        elif x != y:
            return False
    return True


def prepared(model, method: str = "euler") -> Prepared:
    """The cached prepared form of a Model, ModelIR, Kernel or Program."""
    if isinstance(model, (Kernel, Program)):
        entry = Prepared(model.ir)
        (entry._kernels if isinstance(model, Kernel) else entry._programs)[model.method] = model
        return entry
    if isinstance(model, ModelIR):
        return Prepared(model)
    if not isinstance(model, Model):
        raise not_a_model("simulate()", "a Model, ModelIR, Kernel or Program", model)
    key = _model_key(model)
    with _LOCK:
        entry = _BY_MODEL.get(model)
        if entry is not None and _same(entry.key, key):
            return entry
    with _PAUSED():
        entry = Prepared(deep_call(build, model), key)
    with _LOCK:
        _BY_MODEL[model] = entry
    return entry


def background_compile() -> bool:
    """Whether kernels may compile in background threads (SDMODELS_BACKGROUND_COMPILE=0: no)."""
    return os.environ.get("SDMODELS_BACKGROUND_COMPILE", "1") != "0"


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ModelError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
