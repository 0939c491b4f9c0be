"""A system description's kernel compiled in a child process, out of the server's way.

numba's compile holds Python's global lock for most of a composed kernel's 30-45 s of CPU
and takes ~0.4 GB; in a child process it leaves the server's lock, memory and threads to
the slider moves, which run on the interpreter meanwhile. The child composes the same
description (sent on its standard input, read by `sdmodels.system.load_system` as YAML,
never evaluated and never opened as a path), compiles its kernel into the private kernel
cache the server uses ($SDMODELS_CACHE_DIR) and exits; the server then loads the kernel from
that cache in a few seconds. The same text gives the same kernel, called with the same
argument types, so the child's cache entry is the one the server looks for; if the child
fails, the server compiles in its thread as before.

    python -m sdmodels.workbench.compile_aside euler < SYSTEM.yaml
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = 1800.0       # a compile that takes longer has gone wrong: the server compiles


def compile_in_child(text: str, *, method: str = "euler", timeout: float = TIMEOUT_S) -> bool:
    """Compile the kernel of description `text` in a child process; True when it did."""
    import library

    import sdmodels
    roots = {str(Path(m.__file__).resolve().parents[1]) for m in (sdmodels, library)}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*sorted(roots), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    try:
        done = subprocess.run([sys.executable, "-m", "sdmodels.workbench.compile_aside", method],
                              input=text.encode(), capture_output=True, timeout=timeout, env=env,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _main(method: str) -> None:
    from library.compose import compose

    from sdmodels import build, compile, simulate
    text = sys.stdin.read()
    ir = build(compose(text if text.endswith("\n") else text + "\n").model)   # text, not a path
    # the first call compiles (numba compiles at a call) and writes the disk cache
    simulate(compile(ir, method=method), engine="compiled", stop=ir.start + ir.dt)


if __name__ == "__main__":
    _main(sys.argv[1] if len(sys.argv) > 1 else "euler")
