#!/usr/bin/env bash
# LLM prompt-processing and greedy-decode benchmark (called by scripts/bench.sh; `make bench`):
# SmolLM2-135M-Instruct from the model cache's Q4_1 GGUF, the same prompt ids for every side
# (DECODE_PROMPT tokens of a fixed English text, tokenised by tools/bench_decode.py), exactly
# DECODE_NEW greedy tokens (EOS ignored), DECODE_THREADS threads each:
#   xib           build/bin/bench_decode (llama plugin, decode: auto — the fused C++ step on the
#                 GGUF's blocks as stored; prefill in f32 LibTorch)
#   xib (torch)   the same binary with decode: torch (every step as LibTorch ops, f32)
#   transformers  LlamaForCausalLM from the same GGUF (dequantised to float32), model.generate
#   llama.cpp     llama-cpp-python on the same GGUF (quantised weights and activations)
# Each run is its own process with one warm-up generation; the implementations are interleaved
# and every figure is the median of DECODE_REPS runs. Prompt tok/s = prompt tokens / time to
# the first new token; decode tok/s = the following DECODE_NEW − 1 tokens / their time; peak
# RSS from getrusage. The script also checks xib's tokens equal transformers'.
#
#   scripts/bench_decode.sh [BUILD_DIR] [OUT.md]
#   DECODE_REPS=3 DECODE_PROMPT=128 DECODE_NEW=64 DECODE_THREADS=$(nproc)
#   DECODE_PYTHON=… (default: $XIB_BENCH_PYTHON, set up by scripts/bench-env.sh; needs torch,
#   transformers, gguf, llama-cpp-python — installed into it when missing)
set -euo pipefail
build=${1:-build}
out=${2:-docs/benchmarks.md}
reps=${DECODE_REPS:-3}
n_prompt=${DECODE_PROMPT:-128}
n_new=${DECODE_NEW:-64}
threads=${DECODE_THREADS:-$(nproc)}
py=${DECODE_PYTHON:-${XIB_BENCH_PYTHON:-.venv-bench/bin/python}}
bench_bin="$build/bin/bench_decode"
cache=${XIB_MODEL_CACHE:-$HOME/.cache/xib/models}
gguf="$cache/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -x "$bench_bin" ] || { echo "bench_decode: $bench_bin missing: build the bench_decode target" >&2; exit 1; }
[ -f "$gguf" ] || { echo "bench_decode: $gguf missing: run scripts/fetch-models.sh" >&2; exit 1; }
if ! "$py" -c 'import torch, transformers, gguf' 2>/dev/null; then
  echo "bench_decode: installing transformers and gguf into $py's environment" >&2
  "$py" -m pip install -q transformers gguf
fi
if ! "$py" -c 'import llama_cpp' 2>/dev/null; then
  echo "bench_decode: installing llama-cpp-python into $py's environment (compiles llama.cpp; minutes)" >&2
  "$py" -m pip install -q llama-cpp-python
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" tools/bench_decode.py prompt "$gguf" "$n_prompt" >"$tmp/ids.txt"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
field() { local v=${1#*"$2"=}; echo "${v%% *}"; }
sides=(xib xib_torch transformers llamacpp)
for rep in $(seq "$reps"); do
  for side in "${sides[@]}"; do
    echo "decode bench: run $rep/$reps, $side …" >&2
    case $side in
      xib) line=$("$bench_bin" "$gguf" "$tmp/ids.txt" "$n_new" "$threads" auto | tail -n 1) ;;
      xib_torch) line=$("$bench_bin" "$gguf" "$tmp/ids.txt" "$n_new" "$threads" torch | tail -n 1) ;;
      *) line=$("$py" tools/bench_decode.py "$side" "$gguf" "$tmp/ids.txt" "$n_new" "$threads" 2>/dev/null | tail -n 1) ;;
    esac
    echo "  $line" | cut -c1-100 >&2
    echo "$line" >>"$tmp/$side.txt"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() {  # median of one field over a side's runs
  sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$tmp/$1.txt" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
same_ids=no
xib_ids=$(field "$(head -n 1 "$tmp/xib.txt")" ids)
tf_ids=$(field "$(head -n 1 "$tmp/transformers.txt")" ids)
[ -n "$xib_ids" ] && [ "$xib_ids" = "$tf_ids" ] && same_ids=yes
tf_prefill=$(median transformers prefill_tps)
tf_decode=$(median transformers decode_tps)
row() {
  awk -v n="$2" -v p="$(median "$1" prefill_tps)" -v d="$(median "$1" decode_tps)" -v r="$(median "$1" rss_mb)" \
    -v tp="$tf_prefill" -v td="$tf_decode" \
    'BEGIN { printf "| %s | %.1f | %.2f× | %.1f | %.2f× | %.0f MB |\n", n, p, p / tp, d, d / td, r }'
}
table=$(
  echo "| implementation ($threads threads) | prompt tok/s | ÷ transformers | decode tok/s | ÷ transformers | peak RSS |"
  echo "|---|---|---|---|---|---|"
  row xib "xib (fused decode step on the GGUF's Q4_1/Q8_0 blocks, f32 activations)"
  row xib_torch "xib, decode: torch (LibTorch ops, f32 weights)"
  row transformers "transformers $("$py" -c 'import transformers; print(transformers.__version__)') generate (float32, PyTorch $("$py" -c 'import torch; print(torch.__version__)'))"
  row llamacpp "llama.cpp (llama-cpp-python $("$py" -c 'import llama_cpp; print(llama_cpp.__version__)'), Q4_1 × Q8_1)"
)
echo "$table"
echo "xib's $n_new greedy tokens equal transformers': $same_ids"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo
  echo "## LLM prompt processing and greedy decode (SmolLM2-135M-Instruct Q4_1 GGUF), $(date -u +%Y-%m-%d)"
  echo
  echo "$n_prompt-token prompt, exactly $n_new greedy new tokens, batch 1, $threads threads each (LibTorch/PyTorch"
  echo "intra-op threads, llama.cpp n_threads); median of $reps runs per implementation, interleaved, each"
  echo "run its own process after one warm-up generation (scripts/bench_decode.sh, tools/bench_decode.py,"
  echo "plugins/llama/bench/bench_decode.cpp). Prompt tok/s = prompt tokens ÷ time to the first new token;"
  echo "decode tok/s = the next $((n_new - 1)) tokens ÷ their time; peak RSS from getrusage. $cpu, $(nproc) cores;"
  echo "load average $load_before before, $load_after after. xib's tokens equal transformers': $same_ids."
  echo
  echo "$table"
} >>"$out"
echo "appended to $out"
