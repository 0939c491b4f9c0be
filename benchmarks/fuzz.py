"""Long fuzz run of the equation parser and the Vensim/XMILE readers (hypothesis).

The CI-sized version is tests/test_hardening_fuzz.py; this one draws many more, random (not
derandomized) inputs, also runs the models it could import, and prints what it tried.
Any exception that is not an sdmodels error fails with hypothesis' shrunk example.

    python benchmarks/fuzz.py --examples 2000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from _fuzzing import (check_equation, check_model_file, equations, mangled,  # noqa: E402
                      vensim_texts, xmile_texts)


def both_readers(data: bytes) -> None:
    """Arbitrary bytes as a .mdl and as an XMILE file."""
    check_model_file(data.decode("latin-1"), ".mdl")
    check_model_file(data.decode("latin-1"), ".xmile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000,
                        help="examples per target (model files get a fifth of them)")
    args = parser.parse_args()
    n = args.examples
    long = settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
    files = settings(long, max_examples=max(1, n // 5))
    targets = {
        "parser, generated equations": long(given(mangled(equations()))(check_equation)),
        "parser, arbitrary text": long(given(st.text(max_size=400))(check_equation)),
        "Vensim reader (and run)": files(given(vensim_texts())(
            lambda text: check_model_file(text, ".mdl", run=True))),
        "XMILE reader (and run)": files(given(xmile_texts())(
            lambda text: check_model_file(text, ".xmile", run=True))),
        "both readers, arbitrary bytes": files(given(st.binary(max_size=2000))(both_readers)),
    }
    for name, test in targets.items():
        began = time.perf_counter()
        test()
        print(f"{name:<32} ok  ({time.perf_counter() - began:6.1f} s)", flush=True)


if __name__ == "__main__":
    main()
