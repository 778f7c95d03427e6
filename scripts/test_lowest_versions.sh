#!/usr/bin/env bash
# Runs the test suite against the LOWEST versions that the packages' pyproject files allow (uv's lowest-direct
# resolution), so the declared floors stay true. The CPU workflow runs it as a second job; locally:
#   bash scripts/test_lowest_versions.sh [pytest args...]
# Why the floors are where they are (docs/architecture.md, "Dependency floors"): torch 2.13 is the version the
# official golden runs were recorded with (CPU bf16 `randn` draws differ before it), typer 0.27.2 vendors Click
# the way cli/command.py expects, transformers 4.52.1 has Gemma 3's current key layout.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LOWEST_VENV:-$(mktemp -d)/venv}"
python -m pip install -q uv
python -m uv venv -q --python 3.11 "$venv"
python -m uv pip install -q -p "$venv/bin/python" --resolution lowest-direct \
  -e packages/ltx-core -e "packages/ltx-pipelines[hdr]" "pytest>=8" "hypothesis>=6"
python -m uv pip list -p "$venv/bin/python" 2>/dev/null | grep -E "^(torch|transformers|typer|safetensors|av|numpy|openexr) "
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
