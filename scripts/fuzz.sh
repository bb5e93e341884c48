#!/usr/bin/env bash
# libFuzzer runs of the torch-free readers (`make fuzz`): weights, images, audio files, recipes,
# dataset annotations, tokenizers, and the feature cache's own validation. Builds each target in tests/fuzz/ with clang++
# -fsanitize=fuzzer,address,undefined into build-fuzz/, seeds its corpus (build-fuzz/corpus-<name>/,
# kept between runs) with the fixtures, and runs it for FUZZ_SECONDS (default 60). Exits non-zero
# when a target crashes; the reproducer is left in build-fuzz/ (crash-*, leak-*, timeout-*):
# re-run with `build-fuzz/fuzz_<name> FILE`.
#
#   scripts/fuzz.sh [TARGET]...      TARGET: safetensors, pickle, gguf, ctranslate2, image, wav, video, recipe,
#                                    annotations, wordpiece, bpe, sentencepiece, feature_cache (default: all)
#   FUZZ_SECONDS=30 FUZZ_DIR=build-fuzz CXX=clang++ scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
dir=${FUZZ_DIR:-build-fuzz}
cxx=${CXX_FUZZ:-clang++}
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
  targets=(safetensors pickle gguf ctranslate2 image wav video recipe annotations wordpiece bpe sentencepiece feature_cache)

command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found: run scripts/setup-deps.sh --asan" >&2; exit 1; }
mkdir -p "$dir"

# Sources of each target besides its own file (see the header comment of tests/fuzz/fuzz_<name>.cpp;
# globs, so a reader split into several files stays covered), and the fixtures that seed its
# corpus: folders (their files but the *.json expectations) or files (globs; tests/fuzz/data/<name>/
# holds seeds of a target's own, such as inputs that once crashed it).
declare -A SOURCES=(
  [safetensors]="kernel/src/io/safetensors*.cpp kernel/src/io/mapped_file.cpp kernel/src/io/tensor_record.cpp kernel/src/core/error.cpp
                 kernel/src/config/config.cpp"
  [pickle]="kernel/src/io/pickle*.cpp kernel/src/io/tensor_record.cpp kernel/src/core/error.cpp"
  [gguf]="kernel/src/io/gguf*.cpp kernel/src/io/mapped_file.cpp kernel/src/core/error.cpp kernel/src/config/config.cpp"
  [image]="kernel/media/image/src/*.cpp kernel/src/core/error.cpp kernel/src/core/files.cpp"
  [wav]="kernel/media/audio/src/audio_*.cpp kernel/src/core/error.cpp kernel/src/core/files.cpp kernel/src/config/config.cpp"
  [video]="kernel/media/video/src/video_*.cpp kernel/src/core/error.cpp kernel/src/core/files.cpp kernel/src/config/config.cpp"
  [recipe]="kernel/src/config/config.cpp kernel/src/core/error.cpp"
  [annotations]="datasets/src/lavis_load.cpp kernel/src/core/error.cpp"
  [wordpiece]="kernel/src/text/*.cpp kernel/src/core/error.cpp kernel/src/config/config.cpp"
  [bpe]="plugins/llama/text/bpe_*.cpp plugins/llama/text/pre_tokenizer.cpp kernel/src/text/utf8.cpp
         kernel/src/io/gguf*.cpp kernel/src/io/mapped_file.cpp kernel/src/core/error.cpp kernel/src/core/files.cpp
         kernel/src/config/config.cpp"
  [sentencepiece]="plugins/llama/text/sp_*.cpp kernel/src/io/gguf*.cpp kernel/src/io/mapped_file.cpp
                   kernel/src/core/error.cpp kernel/src/core/files.cpp kernel/src/config/config.cpp"
  [ctranslate2]="kernel/src/io/ctranslate2.cpp kernel/src/io/tensor_record.cpp kernel/src/io/mapped_file.cpp
                 kernel/src/core/error.cpp"
  [feature_cache]="kernel/src/io/feature_cache*.cpp kernel/src/io/hdf5_util.cpp kernel/src/core/error.cpp
                   kernel/src/core/files.cpp"
)
declare -A LIBS=([safetensors]="-lyaml-cpp -lfmt" [pickle]="-lfmt" [gguf]="-lyaml-cpp -lfmt" [image]="-lpng -ljpeg -lfmt"
  [wav]="$(pkg-config --libs sndfile soxr libavformat libavcodec libavutil 2>/dev/null) -lyaml-cpp -lfmt"
  [video]="$(pkg-config --libs libavformat libavcodec libavutil libswscale 2>/dev/null) -lyaml-cpp -lfmt"
  [recipe]="-lyaml-cpp -lfmt" [annotations]="-lfmt" [wordpiece]="-lyaml-cpp -lfmt" [bpe]="-lpcre2-8 -lyaml-cpp -lfmt"
  [sentencepiece]="-lyaml-cpp -lfmt" [ctranslate2]="-lfmt" [feature_cache]="-lhdf5_cpp $(pkg-config --libs hdf5) -lfmt")
# Compile flags of a target beyond the common ones (the generated build_info.h: see below).
declare -A FLAGS=([feature_cache]="$(pkg-config --cflags hdf5) -I$dir/generated"
  [wav]="-Ikernel/media/audio/include $(pkg-config --cflags sndfile soxr libavformat libavcodec libavutil 2>/dev/null)"
  [video]="-Ikernel/media/video/include $(pkg-config --cflags libavformat libavcodec libavutil libswscale 2>/dev/null)")
declare -A SEEDS=([safetensors]="tests/io/data/safetensors" [pickle]="tests/io/data/torch" [gguf]="tests/io/data/gguf"
  [image]="kernel/media/image/tests/data" [recipe]="recipes" [annotations]="datasets/tests/data/*.json"
  [wav]="tests/fuzz/data/wav/* kernel/media/audio/tests/data/sounds/bad_*.wav
         kernel/media/audio/tests/data/sounds/bad_corrupt.flac"
  [video]="tests/fuzz/data/video/* kernel/media/video/tests/data/bad_*"
  [wordpiece]="tests/fuzz/data/wordpiece/*" [bpe]="plugins/llama/tests/data/small_*.json tests/fuzz/data/bpe/*"
  [sentencepiece]="plugins/llama/tests/data/sp-vicuna*/* plugins/llama/tests/data/sp-vicuna*.gguf
                   tests/fuzz/data/sentencepiece/*"
  [ctranslate2]="tests/io/data/ctranslate2" [feature_cache]="tests/fuzz/data/feature_cache/*")
# What CMake generates into the build tree and the kernel sources include.
mkdir -p "$dir/generated/xib"
printf '#pragma once\n#define XIB_VERSION "fuzz"\n#define XIB_BUILD_ID "fuzz"\n' >"$dir/generated/xib/build_info.h"

status=0
for t in "${targets[@]}"; do
  [ -n "${SOURCES[$t]+x}" ] || { echo "fuzz: unknown target '$t' (known: ${!SOURCES[*]})" >&2; exit 2; }
  bin="$dir/fuzz_$t"
  # shellcheck disable=SC2206
  srcs=(${SOURCES[$t]})
  # Rebuild when any source or header is newer than the binary.
  if [ ! -x "$bin" ] || [ -n "$(find "tests/fuzz/fuzz_$t.cpp" tests/fuzz/*.h "${srcs[@]%/*}" kernel/include datasets/include \
      -newer "$bin" -print -quit)" ]; then
    echo "fuzz: building $bin"
    # shellcheck disable=SC2086
    "$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -DXIB_SOURCE_DIR="\"$PWD\"" -Ikernel/include -Ikernel/media/image/include -Idatasets/include -Idatasets/src \
      -Iplugins/llama/text ${FLAGS[$t]:-} "tests/fuzz/fuzz_$t.cpp" "${srcs[@]}" ${LIBS[$t]} -o "$bin"
  fi
  corpus="$dir/corpus-$t"
  mkdir -p "$corpus"
  # Each seed named after its path (the tokenizer folders all hold a tokenizer.model).
  # shellcheck disable=SC2206
  seeds=(${SEEDS[$t]})
  for s in "${seeds[@]}"; do
    if [ -d "$s" ]; then find "$s" -type f ! -name '*.json'; else echo "$s"; fi
  done | while read -r f; do cp -f "$f" "$corpus/${f//\//_}"; done
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
  # Byte-level BPE from GGUF metadata: each tokenizer.json fixture as a tokenizer-only GGUF file.
  if [ "$t" = bpe ]; then
    for j in plugins/llama/tests/data/small_*.json; do
      python3 - "$j" "$corpus/$(basename "$j" .json).gguf" <<'PY' || true
import json, struct, sys
t = json.load(open(sys.argv[1]))
vocab = {i: p for p, i in t["model"]["vocab"].items()}
types = {i: 1 for i in vocab}
for a in t["added_tokens"]:
    vocab[a["id"]] = a["content"]
    types[a["id"]] = 3 if a["special"] else 4
n = max(vocab) + 1
merges = [m if isinstance(m, str) else " ".join(m) for m in t["model"]["merges"]]
s = lambda x: struct.pack("<Q", len(x.encode())) + x.encode()
kv = [("general.name", 8, s("fuzz")), ("tokenizer.ggml.model", 8, s("gpt2")),
      ("tokenizer.ggml.pre", 8, s("smollm" if "Digits" in json.dumps(t["pre_tokenizer"]) else "llama3")),
      ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, n) + b"".join(s(vocab.get(i, "")) for i in range(n))),
      ("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, n) + b"".join(struct.pack("<i", types.get(i, 5)) for i in range(n))),
      ("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, len(merges)) + b"".join(s(m) for m in merges)),
      ("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 1)), ("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 2)),
      ("tokenizer.ggml.add_bos_token", 7, b"\x01")]
out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)) + b"".join(s(k) + struct.pack("<I", ty) + v for k, ty, v in kv)
open(sys.argv[2], "wb").write(out)
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
