#!/usr/bin/env bash
# Run the whole test suite (sets itself up first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SDMODELS_CACHE_DIR="${SDMODELS_CACHE_DIR:-$PWD/.venv/sdmodels-cache}"
# one pytest worker per core (SDMODELS_TEST_WORKERS=0 runs in one process); a file's tests stay
# on one worker, so its module fixtures and the kernels it compiles are made once
exec .venv/bin/python -m pytest -q -n "${SDMODELS_TEST_WORKERS:-auto}" --dist loadfile "$@"
