#!/usr/bin/env bash
# How the demo's aligner settings are chosen: on the VALIDATION split only (never the test
# split the demo reports). Each variant of image_caption_qformer.yaml (or the linear ablation)
# is trained with the demo's data, seed and budget, then evaluated on the first 40 validation
# images (captions) and 40 validation questions, beside its blind control; a table of the
# results is written to runs/mini/select/table.md (docs/demo.md, "Choosing the Q-Former").
#
#   scripts/demo-select.sh [BUILD_DIR]     (XIB_DEMO_THREADS; XIB_SELECT: variant names to run)
set -euo pipefail
build=${1:-build}
xib="$build/bin/xib"
recipes=recipes/mini
out=runs/mini/select
threads=${XIB_DEMO_THREADS:-0}
[ -x "$xib" ] || { echo "demo-select: $xib is missing: run make build first" >&2; exit 1; }
"$xib" run "$recipes/world.yaml"

aligner=model.modalities.image.aligner
# name | recipe | --set overrides (space-separated)
variants=(
  "qformer-2-fresh|qformer|"
  "qformer-2-minilm-no-attention|qformer|$aligner.init={path: all-minilm-l6-v2, format: bert, first_layers: true, load_attention: false}"
  "qformer-6-fresh|qformer|$aligner.layers=6"
  "linear|linear|"
)
val=(--set "data.test.0.path=../../runs/mini/world/caption_val.json" --set "data.test.0.limit=40"
  --set "data.test.1.path=../../runs/mini/world/qa_val.json" --set "data.test.1.limit=40")
groups=()
for v in "${variants[@]}"; do
  IFS='|' read -r name recipe override <<<"$v"
  if [ -n "${XIB_SELECT:-}" ] && [[ " $XIB_SELECT " != *" $name "* ]]; then continue; fi
  run=$out/$name
  sets=(--set run.resume=false --set run.overwrite=true --set run.out="../../$run" --set run.threads="$threads")
  [ -n "$override" ] && sets+=(--set "$override")
  echo "== $name: train"
  "$xib" run "$recipes/image_caption_$recipe.yaml" "${sets[@]}"
  for control in "" blind_; do
    echo "== $name: evaluate on validation ${control:+(blind)}"
    "$xib" run "$recipes/eval_${control}$recipe.yaml" --set run="../../$run" --set out="../../$run/val_${control:-plain}" \
      --set threads="$threads" "${val[@]}"
  done
  groups+=(--group "$name" "$run/val_plain" --group "$name (blind)" "$run/val_blind_")
done
python3 scripts/seed_spread.py "${groups[@]}" --out "$out/table.md"
cat "$out/table.md"
