#!/usr/bin/env bash
# Q-Former training-step benchmark (called by scripts/bench.sh; `make bench`): forward + backward
# of the aligner in training mode, xib (build/bin/bench_qformer, LibTorch) against the same
# network in eager PyTorch (tools/bench_qformer.py), in the same run, for two sizes:
#   base  — SPEC's BERT-base Q-Former: 12 layers, hidden 768, 32 queries, encoder width 1408
#   small — MiniLM-sized: 6 layers, hidden 384, 16 queries, encoder width 1280
# batch 8, 257 encoder tokens, 32-token instructions (half the batch padded). Median step time
# of QFORMER_ITERS (3) steps after one warm-up; GFLOP/s from the matrix products' FLOP count
# (backward = 2 × forward) and, for scale, each process's best 2048³ float32 matmul.
#
#   scripts/bench_qformer.sh [BUILD_DIR] [OUT.md]
#   QFORMER_ITERS=3 QFORMER_WARMUP=1 TORCH_PYTHON=… (default: $XIB_BENCH_PYTHON, set up by scripts/bench-env.sh)
set -euo pipefail
build=${1:-build}
out=${2:-docs/benchmarks.md}
iters=${QFORMER_ITERS:-3}
warmup=${QFORMER_WARMUP:-1}
torch_python=${TORCH_PYTHON:-${XIB_BENCH_PYTHON:-.venv-bench/bin/python}}
bench_bin="$build/bin/bench_qformer"
[ -x "$bench_bin" ] || { echo "bench_qformer: $bench_bin missing: build the bench_qformer target" >&2; exit 1; }
"$torch_python" -c 'import torch' 2>/dev/null || { echo "bench_qformer: no torch in $torch_python" >&2; exit 1; }

field() { local v=${1#*"$2"=}; echo "${v%% *}"; }
rows=""
for case in base small; do
  echo "q-former $case: xib …" >&2
  r_xib=$("$bench_bin" "$case" "$iters" "$warmup" | tail -n 1)
  echo "q-former $case: PyTorch eager …" >&2
  r_py=$("$torch_python" tools/bench_qformer.py "$case" "$iters" "$warmup" | tail -n 1)
  gflop=$(field "$r_xib" gflop)
  for side in xib py; do
    r=$([ $side = xib ] && echo "$r_xib" || echo "$r_py")
    name=$([ $side = xib ] && echo "xib (LibTorch $(field "$r_xib" threads) threads)" ||
      echo "PyTorch $(field "$r_py" torch) eager ($(field "$r_py" threads) threads)")
    rows+=$(awk -v c="$case" -v n="$name" -v t="$(field "$r" seconds)" -v g="$gflop" -v p="$(field "$r" mm_gflops)" \
      -v x="$(field "$r_xib" seconds)" \
      'BEGIN { printf "| %s | %s | %.3f s | %.2f× | %.1f | %.1f | %.0f%% |", c, n, t, t / x, g / t, p, 100 * g / t / p }')
    rows+=$'\n'
  done
done
table=$(
  echo "| case | implementation | median step | time ÷ xib | GFLOP/s | matmul peak GFLOP/s | of peak |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$rows"
)
echo "$table"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo
  echo "## Q-Former training step (forward + backward), $(date -u +%Y-%m-%d)"
  echo
  echo "Batch 8, 257 encoder tokens, 32-token instructions, training mode (dropout 0.1); median of"
  echo "$iters steps after $warmup warm-up step(s), each side in its own process; $cpu, $(nproc) cores."
  echo "base: 12 layers, hidden 768, 32 queries, encoder width 1408, d_llm 4096;"
  echo "small: 6 layers, hidden 384, 16 queries, encoder width 1280, d_llm 576. GFLOP/s counts the matrix"
  echo "products (backward = 2 × forward); the peak is each process's best 2048³ float32 matmul."
  echo
  echo "$table"
} >>"$out"
echo "appended to $out"
