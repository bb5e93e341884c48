#!/usr/bin/env bash
# The Python environment the benchmarks compare against: PyTorch, safetensors and numpy from
# PyPI in a git-ignored virtualenv (.venv-bench, or $XIB_BENCH_VENV). Idempotent; prints the
# environment's python on its last line. The fixture scripts in tools/fixtures/ run in it too.
set -euo pipefail
venv=${XIB_BENCH_VENV:-.venv-bench}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import torch, safetensors, numpy' 2>/dev/null; then
  echo "bench-env: installing torch, safetensors, numpy into $venv (once; large download)" >&2
  "$venv/bin/python" -m pip install -q torch safetensors numpy
fi
echo "$venv/bin/python"
