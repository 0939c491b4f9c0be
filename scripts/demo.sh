#!/usr/bin/env bash
# The main job: run the built-in Black Friday model before and after its fixes and write
# diagrams, plots, the time series and a report into out/demo (sets itself up first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SDMODELS_CACHE_DIR="${SDMODELS_CACHE_DIR:-$PWD/.venv/sdmodels-cache}"
exec .venv/bin/sdm demo "$@"
