#!/usr/bin/env bash
# Set-up shared by scripts/demo.sh and scripts/test.sh: Graphviz's dot, Chromium (for the
# workbench's browser tests), a virtualenv,
# and the package with its test extras. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SDM_VENV:-.venv}"

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
# the workbench's browser tests drive Debian's own headless Chromium (never a downloaded build)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || need_apt+=(python3)
if [ ! -x "$VENV/bin/python" ] && ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} with apt-get" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing ${need_apt[*]}. Run: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.sdmodels-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing sdmodels and its test extras into $VENV" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]"
  touch "$stamp"
fi

# the model interpreter, built once ahead of time so that a fresh process answers without
# numba's start-up (sdmodels/_aot.py; a no-op when it is up to date)
"$VENV/bin/python" -m sdmodels._aot
