"""The interpreter built ahead of time into a C extension, so a fresh process skips numba.

Calling a numba function for the first time in a process costs about 0.3 s of numba's own
start-up (its typing registries, LLVM), even when the machine code is cached on disk. The
interpreter is the same for every model, so it can be built once, like the package's other
compiled parts: `python -m sdmodels._aot` (scripts/setup.sh runs it) compiles
sdmodels._interpreter.interpret with numba.pycc into sdmodels/__pycache__, named by a digest of
the interpreter's sources and the numba version. `interpreter()` returns that extension's entry
point when it is there, else the numba function itself (same code, same results).

The extension is compiled for this machine's processor (numba.pycc's default is a generic
x86-64, whose code ran the interpreter 10-25 % slower than numba's own JIT), so its name
also digests the processor's feature list: a copy on another machine is not loaded there.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import platform
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SOURCES = ("_interpreter.py", "_opcodes.py", "_fused.py", "_runtime.py", "_vectors.py",
            "queueing.py", "_aot.py")
SIGNATURE = ("void(f8[:,:], i8[:], i8[:], f8[:], f8[:], i8[:], i8[:], i8[:], i8[:,:], i8[:], "
             "i8[:], f8[:], i8, i8, i8[:], i8[:], i8[:], i8[:], i8[:], i8[:], b1, f8, f8, i8, "
             "i8[:], i8[:], f8[:,:,:], i8[:], i8[:,:])")

# LLVM options for the build (they hold for the rest of the building process). Tail merging
# made the store R[d] = value that ends most handlers one block every handler jumps to: a
# second jump an instruction, whenever a change elsewhere in the loop tipped its heuristics
# (thundering_herd's run 99.6 -> 93.1 ms, black_friday 72.0 -> 66.4 ms with it off)
LLVM_OPTIONS = ("-enable-tail-merge=false",)


@functools.lru_cache(maxsize=1)
def module_name() -> str:
    """The extension's name: a digest of the interpreter's sources and the numba version."""
    digest = hashlib.sha256(_numba_version())
    digest.update(_processor())
    for name in _SOURCES:
        digest.update((_HERE / name).read_bytes())
    return f"interp_{digest.hexdigest()[:16]}"


def _numba_version() -> bytes:
    """numba's version file as bytes, found without importing numba or scanning the
    installed distributions (importlib.metadata costs a millisecond or more a process)."""
    spec = importlib.util.find_spec("numba")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "_version.py"
        if path.is_file():
            return path.read_bytes()
    from importlib.metadata import version
    return version("numba").encode()


def _processor() -> bytes:
    """This processor's model and feature flags (/proc/cpuinfo; the machine's name elsewhere),
    read without importing llvmlite."""
    try:
        with open("/proc/cpuinfo", "rb") as info:
            lines = [line for line in info.read(65536).splitlines()
                     if line.startswith((b"model name", b"flags", b"Features", b"CPU part"))]
        if lines:
            return b"\n".join(sorted(set(lines)))
    except OSError:
        pass
    return platform.machine().encode()


def _built() -> Path | None:
    folder = _HERE / "__pycache__"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"{module_name()}{suffix}"
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def interpreter():
    """The interpreter entry point: the prebuilt extension if present, else the numba function."""
    path = _built()
    if path is not None:
        spec = importlib.util.spec_from_file_location(module_name(), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.interpret
    from sdmodels._interpreter import interpret
    return interpret


def build() -> Path:
    """Compile the extension into sdmodels/__pycache__ (a minute or two, once)."""
    from unittest import mock

    import llvmlite.binding as llvm
    from numba.core import codegen
    from numba.pycc import CC

    from sdmodels._interpreter import interpret
    folder = _HERE / "__pycache__"
    folder.mkdir(exist_ok=True)
    cc = CC(module_name())
    cc.output_dir = str(folder)
    cc.verbose = False
    cc.target_cpu = llvm.get_host_cpu_name()     # as numba's JIT compiles (see the module doc)

    def entry(P, PS, CHECK, LX, LY, LOFF, LLEN, LEXT, code, ex, seg, R0, treg, n, stocks, fptr,
              fidx, fsgn, nonneg, bkind, rk4, start, dt, n_steps, save_steps, save_slots, out,
              seeds, status):
        interpret(P, PS, CHECK, LX, LY, LOFF, LLEN, LEXT, code, ex, seg, R0, treg, n, stocks,
                  fptr, fidx, fsgn, nonneg, bkind, rk4, start, dt, n_steps, save_steps,
                  save_slots, out, seeds, status)
    cc.export("interpret", SIGNATURE)(entry)
    for option in LLVM_OPTIONS:
        llvm.set_option("sdmodels", option)
    # and with the features this processor has (as the JIT: a virtual machine may mask some of
    # its model's, e.g. AVX-512); pycc's ahead-of-time code generator passes none of its own
    with mock.patch.object(codegen.AOTCPUCodegen, "_customize_tm_features",
                           lambda self: codegen.get_host_cpu_features()):
        cc.compile()
    interpreter.cache_clear()
    return _built()


if __name__ == "__main__":
    done = _built()
    print(f"up to date: {done}" if done else f"built {build()}", file=sys.stderr)
