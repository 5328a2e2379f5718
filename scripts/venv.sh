#!/usr/bin/env bash
# Create (or reuse) the project's virtualenv and install the package with its dev extra.
# Usage: scripts/venv.sh [PYTHON]   -> prints the virtualenv's python path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin=${1:-${PYTHON:-python3}}
venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
    "$python_bin" -m venv "$venv" >&2
fi
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip >&2
    "$venv/bin/python" -m pip install -q -e ".[dev]" >&2
    touch "$stamp"
fi
echo "$venv/bin/python"
