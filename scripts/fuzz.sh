#!/usr/bin/env bash
# libFuzzer runs of the torch-free readers (`make fuzz`): weights, images, recipes. Builds each target in
# tests/fuzz/ with clang++ -fsanitize=fuzzer,address,undefined into build-fuzz/, seeds its corpus
# (build-fuzz/corpus-<name>/, kept between runs) with the fixtures, and runs it for
# FUZZ_SECONDS (default 60). Exits non-zero when a target crashes; the reproducer is left in
# build-fuzz/ (crash-*, leak-*, timeout-*): re-run with `build-fuzz/fuzz_<name> FILE`.
#
#   scripts/fuzz.sh [TARGET]...      TARGET: safetensors, pickle, gguf, image, recipe (default: all)
#   FUZZ_SECONDS=30 FUZZ_DIR=build-fuzz CXX=clang++ scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
dir=${FUZZ_DIR:-build-fuzz}
cxx=${CXX_FUZZ:-clang++}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors pickle gguf image recipe)

command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found: run scripts/setup-deps.sh --asan" >&2; exit 1; }
mkdir -p "$dir"

# Sources of each target besides its own file (see the header comment of tests/fuzz/fuzz_<name>.cpp;
# globs, so a reader split into several files stays covered), and the fixture folders that seed
# its corpus.
declare -A SOURCES=(
  [safetensors]="kernel/src/io/safetensors*.cpp kernel/src/io/mapped_file.cpp kernel/src/io/tensor_record.cpp kernel/src/core/error.cpp
                 kernel/src/config/config.cpp"
  [pickle]="kernel/src/io/pickle*.cpp kernel/src/io/tensor_record.cpp kernel/src/core/error.cpp"
  [gguf]="kernel/src/io/gguf*.cpp kernel/src/io/mapped_file.cpp kernel/src/core/error.cpp kernel/src/config/config.cpp"
  [image]="kernel/media/image/src/*.cpp kernel/src/core/error.cpp kernel/src/core/files.cpp"
  [recipe]="kernel/src/config/config.cpp kernel/src/core/error.cpp"
)
declare -A LIBS=([safetensors]="-lyaml-cpp -lfmt" [pickle]="-lfmt" [gguf]="-lyaml-cpp -lfmt" [image]="-lpng -ljpeg -lfmt"
  [recipe]="-lyaml-cpp -lfmt")
declare -A SEEDS=([safetensors]="tests/io/data/safetensors" [pickle]="tests/io/data/torch" [gguf]="tests/io/data/gguf"
  [image]="kernel/media/image/tests/data" [recipe]="recipes")

status=0
for t in "${targets[@]}"; do
  [ -n "${SOURCES[$t]+x}" ] || { echo "fuzz: unknown target '$t' (known: ${!SOURCES[*]})" >&2; exit 2; }
  bin="$dir/fuzz_$t"
  # shellcheck disable=SC2206
  srcs=(${SOURCES[$t]})
  # Rebuild when any source or header is newer than the binary.
  if [ ! -x "$bin" ] || [ -n "$(find tests/fuzz/fuzz_$t.cpp "${srcs[@]}" kernel/include kernel/src/io -newer "$bin" -print -quit)" ]; then
    echo "fuzz: building $bin"
    # shellcheck disable=SC2086
    "$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Ikernel/include -Ikernel/media/image/include "tests/fuzz/fuzz_$t.cpp" "${srcs[@]}" ${LIBS[$t]} -o "$bin"
  fi
  corpus="$dir/corpus-$t"
  mkdir -p "$corpus"
  find "${SEEDS[$t]}" -type f ! -name '*.json' -exec cp -f {} "$corpus/" \;
  # The zip fixtures hold their pickle as a stored entry: extract data.pkl as a seed of its own.
  if [ "$t" = pickle ]; then
    for z in tests/io/data/torch/*_zip.pt; do
      python3 - "$z" "$corpus/$(basename "$z" .pt).data.pkl" <<'PY' || true
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
    open(sys.argv[2], "wb").write(z.read(name))
PY
    done
  fi
  echo "fuzz: running $t for ${seconds}s (corpus $corpus: $(find "$corpus" -type f | wc -l) files)"
  log="$dir/fuzz_$t.log"
  if (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "./fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 "corpus-$t") >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $t ok: ${runs:-?} runs in ${seconds}s, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) files (log $log)"
  else
    echo "fuzz: $t FAILED: see $log" >&2
    tail -n 40 "$log" >&2
    status=1
  fi
done
exit $status
