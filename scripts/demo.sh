#!/usr/bin/env bash
# The main job: run the built-in Black Friday model before and after its fixes and write
# diagrams, plots, the time series and a report into out/demo (sets itself up first).
# MODEL and -o DIR are read from where it is called, like any command; without -o the
# report goes to the repository's out/demo.
set -euo pipefail
here="$PWD"
cd "$(dirname "$0")/.."
root="$PWD"
bash scripts/setup.sh
export SDMODELS_CACHE_DIR="${SDMODELS_CACHE_DIR:-$root/.venv/sdmodels-cache}"
out=(-o "$root/out/demo")
for arg in "$@"; do
  case "$arg" in -o|--out|-o*|--out=*) out=() ;; esac
done
cd "$here"
exec "$root/.venv/bin/sdm" demo "$@" "${out[@]}"
