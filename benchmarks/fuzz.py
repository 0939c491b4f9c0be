"""Long fuzz run of the equation parser and the Vensim/XMILE readers (hypothesis).

The CI-sized version is tests/test_hardening_fuzz.py; this one draws many more, random (not
derandomized) inputs, also runs the models it could import, and prints what it tried.
Any exception that is not an sdmodels error fails with hypothesis' shrunk example.

--corpus instead feeds the readers malformed variants of every model file of the shared
corpora (../shared/test-models, ../shared/sdeverywhere-models, World3): cut at eighths of the
text and at a line, a line dropped or doubled, a `|` or `~` removed, bytes flipped (seeded:
the same variants every run); each must import and build or raise an sdmodels error, never
another exception (which the CLI would print as a traceback). Prints every escape found.

    python benchmarks/fuzz.py --examples 2000
    python benchmarks/fuzz.py --corpus [--variants 24]
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


def corpus_files() -> list[Path]:
    """Every .mdl / .xmile / .stmx file of the shared corpora."""
    from sdmodels.interop.conformance import shared_root
    root = shared_root()
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".mdl", ".xmile", ".stmx")
                  and p.is_file())


def corpus_pass(variants: int) -> int:
    """Malformed variants of every corpus file through the reader; the count of escapes."""
    from test_corpus_fuzz import corpus_variants, escapes
    found = 0
    files = corpus_files()
    began = time.perf_counter()
    for path in files:
        for label, text in corpus_variants(path.read_text(encoding="utf-8", errors="replace"),
                                           variants, seed=path.name):
            trouble = escapes(path, text)
            if trouble:
                found += 1
                print(f"{path.name} [{label}]: {trouble}", flush=True)
    print(f"{len(files)} files x {variants} variants: {found} escapes "
          f"({time.perf_counter() - began:.0f} s)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000,
                        help="examples per target (model files get a fifth of them)")
    parser.add_argument("--corpus", action="store_true",
                        help="malformed variants of the shared corpora's model files instead")
    parser.add_argument("--variants", type=int, default=24, help="variants per corpus file")
    args = parser.parse_args()
    if args.corpus:
        sys.exit(1 if corpus_pass(args.variants) else 0)
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
