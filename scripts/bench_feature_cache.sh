#!/usr/bin/env bash
# Feature-cache training benchmark (called by scripts/bench.sh; `make bench`): seconds per
# training step of the embedded default — image modality, EfficientNet-Lite0 at 128 px,
# SmolLM2-135M-Instruct (model cache), Q-Former 6 layers / hidden 384 / 12 heads / ffn 1536 /
# 8 queries initialised from all-MiniLM-L6-v2 — on a small miniature world (kind: mini_world),
# uncached (decode + processor + frozen encoder every step) and with run.feature_cache
# (features read from HDF5), in the same run of this script, one after the other. Each figure
# is the median step time of FC_STEPS steps after a first, warm-up step; the cached run fills
# its cache before its first step, and that fill is reported on its own.
#
#   scripts/bench_feature_cache.sh [BUILD_DIR] [OUT.md]
#   FC_STEPS=4 FC_BATCH=8 FC_SCENES=16 (training scenes of the world, 5 captions each)
set -euo pipefail
build=${1:-build}
out=${2:-docs/benchmarks.md}
steps=${FC_STEPS:-4}
batch=${FC_BATCH:-8}
scenes=${FC_SCENES:-16}
xib="$build/bin/xib"
cache=${XIB_MODEL_CACHE:-$HOME/.cache/xib/models}
minilm="$cache/all-minilm-l6-v2/model.safetensors"
[ -x "$xib" ] || { echo "bench_feature_cache: $xib missing: build xib and its plugins" >&2; exit 1; }
[ -f "$minilm" ] || { echo "bench_feature_cache: $minilm missing: run scripts/fetch-models.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/xib-bench-fc.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "feature cache: a miniature world of $scenes scenes …" >&2
"$xib" run recipes/mini/world.yaml --set out="$work/world" --set train="$scenes" --set val=2 --set test=2 \
  >"$work/world.log" 2>&1 || { cat "$work/world.log" >&2; exit 1; }
cat >"$work/train.yaml" <<EOF
kind: train
description: feature-cache benchmark
model:
  llm: {plugin: llama, path: smollm2-135m-instruct}
  prompt: {max_answer_tokens: 32}
  modalities:
    image:
      encoder: {type: efficientnet_lite0}
      processor: {size: 128}
      aligner:
        type: qformer
        layers: 6
        hidden: 384
        heads: 12
        ffn: 1536
        queries: 8
        init: {path: $minilm, format: bert}
data:
  train:
    - {reader: caption, path: $work/world/caption_train.json, root: $work/world, modality: image}
  batch_size: $batch
  seed: 1
run:
  out: $work/plain
  steps: $((steps + 1))
  lr: 2.0e-4
  warmup_steps: 2
EOF

# Median step_s of the steps after the first, and the mean loss of those steps.
summary() {
  python3 - "$1" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")][1:]
print(f"{statistics.median(r['step_s'] for r in rows):.3f} {statistics.mean(r['loss'] for r in rows):.4f}")
PY
}

echo "feature cache: uncached run ($((steps + 1)) steps) …" >&2
"$xib" run "$work/train.yaml" >"$work/plain.log" 2>&1 || { cat "$work/plain.log" >&2; exit 1; }
echo "feature cache: cached run (fill, then $((steps + 1)) steps) …" >&2
"$xib" run "$work/train.yaml" --set run.out="$work/cached" --set run.feature_cache.path="$work/features.h5" \
  >"$work/cached.log" 2>&1 || { cat "$work/cached.log" >&2; exit 1; }

read -r t_plain loss_plain < <(summary "$work/plain")
read -r t_cached loss_cached < <(summary "$work/cached")
fill=$(grep -o 'feature cache [^:]*: [0-9]* entries.*' "$work/cached.log" | head -n 1 | sed 's/^feature cache [^:]*: //')
images=$(find "$work/world/images" -name 'train_*' | wc -l)
# What the cache saves per step: the fill's decode + processor + encoder time for one batch.
fill_s=$(echo "$fill" | sed -n 's/.*(\([0-9.]*\) s)$/\1/p')
n_fill=$(echo "$fill" | sed -n 's/.* \([0-9]*\) encoded.*/\1/p')
per_batch=$(awk -v s="${fill_s:-0}" -v n="${n_fill:-0}" -v b="$batch" 'BEGIN { printf "%.3f", (n > 0 ? s * b / n : 0) }')
h5=$(stat -c %s "$work/features.h5")
table=$(
  echo "| training step | median s/step | mean loss (steps 2–$((steps + 1))) | time ÷ cached |"
  echo "|---|---|---|---|"
  awk -v t="$t_plain" -v l="$loss_plain" -v c="$t_cached" 'BEGIN { printf "| uncached (decode + processor + EfficientNet-Lite0) | %.3f s | %s | %.2f× |\n", t, l, t / c }'
  awk -v t="$t_cached" -v l="$loss_cached" 'BEGIN { printf "| feature cache (HDF5) | %.3f s | %s | 1.00× |\n", t, l }'
)
echo "$table"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo
  echo "## Training step with and without the feature cache, $(date -u +%Y-%m-%d)"
  echo
  echo "The embedded default (EfficientNet-Lite0 at 128 px, SmolLM2-135M-Instruct Q4_1, Q-Former 6 layers /"
  echo "hidden 384 / 8 queries from all-MiniLM-L6-v2), batch $batch, on a miniature world of $images training"
  echo "images; median of $steps steps after one warm-up step, both runs in the same script run; $cpu,"
  echo "$(nproc) cores. Cache fill before the cached run: $fill; file $((h5 / 1024)) KiB, i.e. ${per_batch} s"
  echo "of decoding and encoding per batch of $batch — what the cache saves per step. The losses differ because"
  echo "the uncached run augments (random resized crops) and the cached one cannot. Run on an idle machine:"
  echo "the saving is a small part of a step, below the noise of a shared one."
  echo
  echo "$table"
} >>"$out"
echo "appended to $out"
