#!/usr/bin/env bash
# The short fuzz pass of `make test` (CTest fuzz/short_pass): every target of scripts/fuzz.sh for
# FUZZ_SECONDS (default 8) from its seeds and its corpus in DIR (kept between runs, so each pass
# starts where the last one stopped). Exits 77 (skipped) without clang++, unless
# XIB_TEST_REQUIRE_FUZZ=1 (`make test` sets it after installing clang): then that is a failure.
#
#   tests/fuzz/short_pass.sh DIR
set -euo pipefail
dir=${1:?usage: short_pass.sh DIR}
if ! command -v "${CXX_FUZZ:-clang++}" >/dev/null; then
  if [ "${XIB_TEST_REQUIRE_FUZZ:-0}" = 1 ]; then
    echo "short_pass: clang++ is missing: run scripts/setup-deps.sh --asan" >&2
    exit 1
  fi
  echo "short_pass: skipped: no clang++ (scripts/setup-deps.sh --asan installs it)"
  exit 77
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-8} FUZZ_DIR="$dir" exec bash "$(dirname "$0")/../../scripts/fuzz.sh"
