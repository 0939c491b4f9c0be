#!/usr/bin/env bash
# Run the whole test suite (sets itself up first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SDMODELS_CACHE_DIR="${SDMODELS_CACHE_DIR:-$PWD/.venv/sdmodels-cache}"
exec .venv/bin/python -m pytest -q "$@"
