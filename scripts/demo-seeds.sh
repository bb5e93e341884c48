#!/usr/bin/env bash
# The demo's key results over several seeds (`make demo-seeds`, after `make demo` has written
# the world and the feature cache): for each seed, the image Q-Former and the linear aligner
# trained alone (run.seed and data.seed set to the seed) and evaluated on the test split beside
# their blind controls; then a table of each metric's mean, standard deviation and per-seed
# values (scripts/seed_spread.py), written to runs/mini/seeds/table.md. Everything else is the
# demo's recipes unchanged.
#
#   scripts/demo-seeds.sh [BUILD_DIR]     (XIB_SEEDS: default "1 2 3"; XIB_DEMO_THREADS)
set -euo pipefail
build=${1:-build}
xib="$build/bin/xib"
recipes=recipes/mini
runs=runs/mini
out=$runs/seeds
threads=${XIB_DEMO_THREADS:-0}
seeds=${XIB_SEEDS:-1 2 3}
[ -x "$xib" ] || { echo "demo-seeds: $xib is missing: run make build first" >&2; exit 1; }
"$xib" run "$recipes/world.yaml"

groups=()
for aligner in qformer linear; do
  for control in "" blind_; do
    dirs=()
    for s in $seeds; do
      run=$out/$s/$aligner
      if [ -z "$control" ]; then
        echo "== seed $s: train $aligner"
        "$xib" run "$recipes/image_caption_$aligner.yaml" --set run.resume=false --set run.overwrite=true \
          --set run.seed="$s" --set data.seed="$s" --set run.out="../../$run" --set run.threads="$threads"
      fi
      echo "== seed $s: evaluate ${control}$aligner"
      "$xib" run "$recipes/eval_${control}$aligner.yaml" --set run="../../$run" \
        --set out="../../$run/eval_${control:-plain}" --set threads="$threads"
      dirs+=("$run/eval_${control:-plain}")
    done
    groups+=(--group "${control:+blind }$aligner" "${dirs[@]}")
  done
done
python3 scripts/seed_spread.py "${groups[@]}" --out "$out/table.md"
cat "$out/table.md"
