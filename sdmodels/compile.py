"""compile(ir) -> Kernel: numba code generated from the validated IR tree.

Arrays are flattened: every element of an arrayed variable becomes one scalar slot, so the
kernel is plain scalar code looping over runs (outer) and steps (inner); its text is written
by sdmodels/kernel_source.py (the equations) and sdmodels/kernel_layout.py (the module: one
function, and for a large model part functions numba compiles one by one). Parameters are
passed in as a (runs, n_params) array and never baked into the code, so a new parameter set
or sweep never recompiles. The generated source is keyed by its own hash and cached in
memory and on disk (verified against the hash on load; numba's cache in the same private
directory, see kernel_cache), so a second process does not pay the
compile again. Only numbers and slot indices from the IR reach the source text; no name,
string or equation text from a user or a model file does.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sdmodels._deep import deep_call
from sdmodels.elements import canonical
from sdmodels.kernel_cache import load_kernel, secure_subdir
from sdmodels.kernel_source import SCALAR_SLOTS, Slot, _Generator

if TYPE_CHECKING:
    from sdmodels.ir import ModelIR

METHODS = ("euler", "rk4")
_MEMORY_CACHE: dict[str, object] = {}
__all__ = ["METHODS", "SCALAR_SLOTS", "check_method", "Kernel", "Slot", "SlotTable", "compile", "compiled_kernel",
           "default_params", "kernel_on_disk"]


def cache_dir() -> Path:
    """Where generated kernels live ($SDMODELS_CACHE_DIR to move it; private, see kernel_cache)."""
    return secure_subdir("kernels")


class SlotTable:
    """What a prepared model (compiled Kernel or interpreted Program) offers `simulate`."""

    @cached_property
    def parameter_columns(self) -> dict[str, list[int]]:
        """Each settable name (canonical id, display, 'Name[elem]') -> its parameter column(s)."""
        out: dict[str, list[int]] = {}
        for col, slot_index in enumerate(self.param_slots):
            slot = self.slots[slot_index]
            var = self.ir.variables[slot.var]
            for key in {var.id, canonical(var.display)}:
                out.setdefault(key, []).append(col)
            if slot.key:
                out.setdefault(canonical(slot.label), []).append(col)
        return out

    @cached_property
    def output_index(self) -> tuple[dict[str, list[int]], dict[str, int]]:
        """({variable id: its slots}, {canonical slot label: slot}): the names `outputs` may
        use, built once (a workbench slider names its plotted outputs on every run)."""
        by_var: dict[str, list[int]] = {}
        for s in self.slots:
            by_var.setdefault(s.var, []).append(s.index)
        return by_var, {canonical(s.label): s.index for s in self.slots}

    @cached_property
    def default_labels(self) -> tuple[str, ...]:
        """The column labels of the default outputs."""
        return tuple(self.slots[i].label for i in self.default_outputs)

    @cached_property
    def label_index(self):
        """default_labels as a pandas Index, made once (each DataFrame's columns are a view
        of it: the labels shared, as they cannot change, the name the frame's own)."""
        import pandas as pd
        return pd.Index(self.default_labels, dtype=object)

    @cached_property
    def default_outputs(self) -> np.ndarray:
        """Slots saved when no outputs are named: every variable the modeller declared."""
        return np.array([s.index for s in self.slots if not self.ir.variables[s.var].internal],
                        dtype=np.int64)


@dataclass(frozen=True)
class Kernel(SlotTable):
    """A compiled model: call `simulate` with it; holds the slot table and default params."""
    ir: ModelIR
    method: str
    slots: tuple[Slot, ...]
    param_slots: tuple[int, ...]          # slot index of each parameter column
    defaults: np.ndarray                  # default parameter values, one per column
    lookup_xs: np.ndarray
    lookup_ys: np.ndarray
    check_order: np.ndarray               # slots searched, in order, for a non-finite value
    source_hash: str
    _module: object = field(repr=False, compare=False)

    @property
    def function(self):
        """The compiled numba function (nogil: callers may run slices of runs in threads)."""
        return self._module.kernel

    def __call__(self, P, start, dt, n_steps, save_steps, save_slots, out, seeds, status):
        """Advance every run in P (runs x params) and write saved values into `out`.

        The first call compiles the numba function; numba's SSA pass recurses once per
        branch between a definition and its use, so a kernel with hundreds of samplers
        (eviction_cascade's per-pod decisions) can exceed Python's recursion limit there:
        `deep_call` retries such a call with a deep stack (nothing was written before).
        """
        deep_call(self._module.kernel, P, self._param_slot_array, self.check_order,
                  self.lookup_xs, self.lookup_ys, start, dt, n_steps, save_steps,
                  save_slots, out, seeds, status)

    @cached_property
    def _param_slot_array(self) -> np.ndarray:
        return np.asarray(self.param_slots, dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _helpers_digest() -> str:
    """A hash of the compiled helpers' source: numba's cache of a kernel does not notice a
    change in a helper it calls, so a changed helper must give the kernel a new name."""
    import inspect

    from sdmodels import _interpreter, _runtime, _vectors
    text = b"".join(Path(m.__file__).read_bytes() for m in (_runtime, _vectors))
    text += inspect.getsource(_interpreter._roll.py_func).encode()
    return hashlib.sha256(text).hexdigest()


def compile(model, *, method: str = "euler") -> Kernel:  # noqa: A001 - the pipeline verb
    """Compile a Model or ModelIR for one integration method ('euler' or 'rk4')."""
    return _kernel(model, method, load=True)


def compiled_kernel(model, *, method: str = "euler") -> Kernel | None:
    """The kernel of `model` if a kernel of the same text is already compiled in this
    process, else None (nothing is compiled; writing the text costs milliseconds).

    A model that differs from one compiled before only in its parameters' values has the
    same kernel text: a system description saved with other numbers runs its new curves on
    the kernel at once.

    >>> from sdmodels import Model, simulate
    >>> def decay(lifetime):
    ...     m = Model("decay", stop=2, dt=1)
    ...     s = m.stock("Amount", initial=100)
    ...     _ = m.flow("Outflow", s / m.constant("Lifetime", lifetime), out_of=s)
    ...     return m
    >>> _ = simulate(compile(decay(2)))
    >>> compiled_kernel(decay(4)).defaults.tolist()
    [4.0]
    """
    return _kernel(model, method, load=False)


def kernel_on_disk(model, *, method: str = "euler") -> bool:
    """Whether this model's kernel text is in the disk cache: it was compiled (or loaded)
    before, so numba's cache most likely holds its machine code and a load takes seconds.

    >>> from sdmodels import Model
    >>> m = Model("drain", stop=2, dt=1)
    >>> s = m.stock("Amount", initial=100)
    >>> _ = m.flow("Outflow", s / m.constant("Lifetime", 2), out_of=s)
    >>> _ = compile(m)
    >>> kernel_on_disk(m)
    True
    """
    from sdmodels.ir import build
    from sdmodels.kernel_cache import digest_of
    try:
        return (cache_dir() / f"k_{digest_of(_Generator(build(model), method).source())}.py"
                ).is_file()
    except OSError:             # an insecure or missing cache: nothing is on disk
        return False


def check_method(ir, method: str) -> None:
    """Refuse an unknown integration method, and RK4 for a model with stocks that take a
    new value each step.

    Such a stock's flow is (value - stock) / TIME STEP: under Euler it holds `value` after
    one step, exactly (how importers keep SAMPLE IF TRUE, DELAY FIXED, DELAY MATERIAL and
    Stella ovens' state); RK4's stages only move it 5/8 of the way, so every number
    downstream would be silently wrong.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if method == "euler":
        return
    from sdmodels.errors import ModelError
    hosts = list(dict.fromkeys(_display_of_host(ir, stock) for stock in per_step_stocks(ir)))
    if hosts:
        shown = ", ".join(f"'{h}'" for h in hosts[:5]) + (" and more" if len(hosts) > 5 else "")
        raise ModelError(f"model '{ir.name}' can only be integrated with Euler: {shown} "
                         "keep state in stocks that take a new value each step (a flow of "
                         "(value - stock) / TIME STEP), which RK4's stages move only part "
                         "of the way; run it with method='euler' (sdm run --method euler)")


def per_step_stocks(ir) -> list[str]:
    """Ids of the stocks whose inflow is (value - stock) / TIME STEP (see check_method)."""
    from sdmodels.elements import Flow
    from sdmodels.expr import Binary, Ref, TimeStep
    out = []
    for flow in ir.of_kind(Flow):
        eq = flow.equation
        if (isinstance(eq, Binary) and eq.op == "/" and isinstance(eq.right, TimeStep)
                and isinstance(eq.left, Binary) and eq.left.op == "-"
                and isinstance(eq.left.right, Ref) and flow.into is not None
                and canonical(eq.left.right.name) == flow.into):
            out.append(flow.into)
    return out


def _display_of_host(ir, var_id: str) -> str:
    """The display name of the element an internal variable was expanded from."""
    element = ir.variables[var_id]
    while element.origin is not None and element.origin in ir.variables:
        element = ir.variables[element.origin]
    return element.display


def _kernel(model, method: str, *, load: bool) -> Kernel | None:
    from sdmodels.ir import build       # networkx: imported when a model is first built
    ir = build(model)
    check_method(ir, method)
    gen = _Generator(ir, method)
    source = gen.source()
    digest = hashlib.sha256((source + _helpers_digest()).encode()).hexdigest()[:24]
    module = _MEMORY_CACHE.get(digest)
    if not load and (module is None or not module.kernel.signatures):
        return None         # not compiled in this process (numba compiles at the first call)
    module = module or _load(digest, source)
    _MEMORY_CACHE[digest] = module
    return Kernel(ir, method, tuple(gen.slots), tuple(gen.param_slots), default_params(gen),
                  np.array(gen.lookup_xs, dtype=float), np.array(gen.lookup_ys, dtype=float),
                  np.array(gen.check_order(), dtype=np.int64), digest, module)


def default_params(gen: "_Generator") -> np.ndarray:
    """The default value of each parameter column (the constants' values in the model)."""
    return np.array([gen.ir.variables[gen.slots[i].var].values[_flat_index(gen.ir, gen.slots[i])]
                     for i in gen.param_slots], dtype=float)


def _flat_index(ir: ModelIR, slot: Slot) -> int:
    var = ir.variables[slot.var]
    if not var.dims:
        return 0
    shape = [len(ir.dims[d].elements) for d in var.dims]
    pos = [ir.dims[d].elements.index(k) for d, k in zip(var.dims, slot.key)]
    return int(np.ravel_multi_index(pos, shape))


def _load(digest: str, source: str):
    """The kernel module, from a cache file verified against its digest (kernel_cache)."""
    return load_kernel(source, f"sdmodels_kernel_{digest}")
