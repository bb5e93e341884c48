#!/usr/bin/env bash
# Benchmarks (`make bench`). Each compares xib with an established tool on the same input, in
# the same run, and reports ratios; results are appended to docs/benchmarks.md. Later issues add
# their benchmarks here (weights loading, Q-Former, decode, …).
set -euo pipefail
build=${1:-build}
xib="$build/bin/xib"
out=docs/benchmarks.md
cache=${XIB_MODEL_CACHE:-$HOME/.cache/xib/models}
reps=${XIB_BENCH_REPS:-5}
# The Python side of the comparisons (PyTorch, safetensors), in a git-ignored virtualenv.
export XIB_BENCH_PYTHON=${XIB_BENCH_PYTHON:-$(bash scripts/bench-env.sh | tail -n 1)}

# Best of $reps wall-clock runs of a command, in seconds.
best_of() {
  local best=""
  for _ in $(seq "$reps"); do
    local t0 t1 dt
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "benchmark command failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    if [ -z "$best" ] || awk -v d="$dt" -v b="$best" 'BEGIN { exit !(d < b) }'; then best=$dt; fi
  done
  printf '%.3f' "$best"
}

mapfile -t files < <(find "$cache" -mindepth 2 -type f ! -name xib-model.json | sort)
[ "${#files[@]}" -gt 0 ] || { echo "model cache is empty: run scripts/fetch-models.sh" >&2; exit 1; }
bytes=$(cat "${files[@]}" | wc -c)
mb=$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')

echo "model-cache verification: re-hash ${#files[@]} files, $(printf '%.0f' "$mb") MB, best of $reps"
cat "${files[@]}" >/dev/null  # warm the page cache so all three read from memory
t_xib=$(best_of "$xib" models --verify)
t_coreutils=$(best_of sha256sum "${files[@]}")
t_python=$(best_of python3 -c 'import hashlib,sys
for f in sys.argv[1:]:
    h=hashlib.sha256()
    with open(f,"rb") as fh:
        for b in iter(lambda: fh.read(1<<20), b""): h.update(b)
' "${files[@]}")
row() { awk -v name="$1" -v t="$2" -v mb="$mb" -v x="$t_xib" 'BEGIN { printf "| %s | %s s | %.0f MB/s | %.2f× |\n", name, t, mb / t, t / x }'; }
table=$(
  echo "| tool | best time | throughput | time ÷ xib |"
  echo "|---|---|---|---|"
  row "xib models --verify (our SHA-256, includes start-up)" "$t_xib"
  row "coreutils sha256sum" "$t_coreutils"
  row "Python hashlib (OpenSSL)" "$t_python"
)
echo "$table"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo
  echo "## Model-cache verification (SHA-256), $(date -u +%Y-%m-%d)"
  echo
  echo "${#files[@]} files, $(printf '%.0f' "$mb") MB from the page cache, best of $reps runs; $cpu, $(nproc) cores."
  echo
  echo "$table"
} >>"$out"
echo "appended to $out"
bash scripts/bench_weights.sh "$build" "$out"
bash scripts/bench_qformer.sh "$build" "$out"
bash scripts/bench_decode.sh "$build" "$out"
bash scripts/bench_feature_cache.sh "$build" "$out"
bash scripts/bench_audio.sh "$build" "$out"
