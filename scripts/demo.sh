#!/usr/bin/env bash
# The embedded-default demo (`make demo`, after set-up, model fetch and build): the miniature
# image world → the image Q-Former and, separately, the linear aligner (the paper's ablation),
# each trained alone against the frozen SmolLM2-135M-Instruct → both evaluated on unseen test
# images, each beside its blind control → a side-by-side table with sample captions → a question about a
# test image, answered by the trained Q-Former. Everything lands under runs/mini/ (see
# docs/demo.md); the table is runs/mini/demo.md.
#
#   scripts/demo.sh [BUILD_DIR]        (XIB_DEMO_THREADS: LibTorch threads, default all cores)
set -euo pipefail
build=${1:-build}
xib="$build/bin/xib"
recipes=recipes/mini
runs=runs/mini
threads=${XIB_DEMO_THREADS:-0}
[ -x "$xib" ] || { echo "demo: $xib is missing: run make build first" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; }
declare -a timings=()
timed() {  # timed LABEL COMMAND…: run, record the wall time, stop the demo on failure
  local label=$1 start end
  shift
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  timings+=("$(printf '%-20s %5d s' "$label" $((end - start)))")
}

step "what this build is" "$xib version"
"$xib" version

step "the embedded-default models in the model cache" "$xib run $recipes/check_models.yaml"
"$xib" run "$recipes/check_models.yaml"

step "the miniature world: 1200 training, 100 validation, 100 test scenes (kept when already there)" \
  "$xib run $recipes/world.yaml"
timed "world" "$xib" run "$recipes/world.yaml"

for aligner in qformer linear; do
  step "train the image $aligner alone (frozen EfficientNet-Lite0 and SmolLM2; features cached)" \
    "$xib run $recipes/image_caption_$aligner.yaml --set run.resume=false --set run.overwrite=true"
  timed "train $aligner" "$xib" run "$recipes/image_caption_$aligner.yaml" --set run.resume=false --set run.overwrite=true \
    --set run.threads="$threads"
done

for e in qformer linear blind_qformer blind_linear; do
  step "evaluate: $e (80 unseen test images captioned with beam search; 150 questions)" \
    "$xib run $recipes/eval_$e.yaml"
  timed "evaluate $e" "$xib" run "$recipes/eval_$e.yaml" --set threads="$threads"
done

evals=("$runs/qformer/eval" "$runs/linear/eval" "$runs/qformer/eval_blind" "$runs/linear/eval_blind")
step "side by side" "$xib compare ${evals[*]} --samples 6 --out $runs/demo.md"
"$xib" compare "${evals[@]}" --samples 6 --out "$runs/demo.md"

image=$runs/world/images/test_00007.png
step "ask the trained Q-Former about an unseen test image" \
  "$xib ask --run $runs/qformer --image $image \"how many objects are there?\""
"$xib" ask --run "$runs/qformer" --image "$image" "how many objects are there?"

printf '\n\033[1m== time\033[0m\n'
printf '%s\n' "${timings[@]}"
printf '\nRun folders (config, metrics.jsonl, loss/lr plots, report.md, checkpoints, eval/): %s/qformer, %s/linear\n' \
  "$runs" "$runs"
