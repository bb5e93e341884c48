#!/usr/bin/env bash
# Audio benchmarks (called by scripts/bench.sh; `make bench`), each side in its own process on
# the same input, run one after another and reported as ratios:
#   Kaldi fbank as BEATs computes it, on AUDIO_SECONDS of 16-kHz audio, with 128 mel bins (BEATs):
#     xib (xib/media/fbank.h) · torchaudio.compliance.kaldi.fbank; and with 80 bins (the most
#     kaldi-native-fbank accepts on a 512-point FFT): the same two · kaldi-native-fbank
#   the Whisper tiny.en encoder on one 30-s window [1, 80, 3000], from the model cache's model.bin:
#     xib (LibTorch) · transformers' WhisperEncoder (PyTorch eager, the same weights)
# Each figure is the median of AUDIO_REPS calls after a warm-up (start-up excluded).
#
#   scripts/bench_audio.sh [BUILD_DIR] [OUT.md]
#   AUDIO_SECONDS=60 AUDIO_REPS=5 AUDIO_THREADS=$(nproc) (the encoders' threads, both sides)
#   AUDIO_PYTHON=… (default $XIB_BENCH_PYTHON from scripts/bench-env.sh; needs torch, torchaudio,
#   transformers, kaldi-native-fbank — installed into it when missing)
set -euo pipefail
build=${1:-build}
out=${2:-docs/benchmarks.md}
seconds=${AUDIO_SECONDS:-60}
reps=${AUDIO_REPS:-5}
export AUDIO_THREADS=${AUDIO_THREADS:-$(nproc)}
py=${AUDIO_PYTHON:-${XIB_BENCH_PYTHON:-.venv-bench/bin/python}}
bin="$build/bin/bench_audio"
cache=${XIB_MODEL_CACHE:-$HOME/.cache/xib/models}
model="$cache/whisper-tiny-en-ct2"
[ -x "$bin" ] || { echo "bench_audio: $bin missing: build the bench_audio target" >&2; exit 1; }
[ -f "$model/model.bin" ] || { echo "bench_audio: $model/model.bin missing: run scripts/fetch-models.sh" >&2; exit 1; }
if ! "$py" -c 'import torchaudio, transformers, kaldi_native_fbank' 2>/dev/null; then
  echo "bench_audio: installing torchaudio (matching torch), transformers, kaldi-native-fbank into $py's environment" >&2
  tv=$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')
  "$py" -m pip install -q "torch==$tv" torchaudio transformers kaldi-native-fbank
fi

field() { local v=${1#*"$2"=}; echo "${v%% *}"; }
for bins in 128 80; do
  echo "audio bench: fbank ($bins bins) on $seconds s: xib, torchaudio …" >&2
  declare "r_xib_$bins=$("$bin" fbank "$bins" "$seconds" "$reps")"
  declare "r_ta_$bins=$("$py" tools/bench_audio.py fbank-torchaudio "$bins" "$seconds" "$reps")"
done
echo "audio bench: fbank (80 bins), kaldi-native-fbank …" >&2
r_knf_80=$("$py" tools/bench_audio.py fbank-knf 80 "$seconds" "$reps")
echo "audio bench: whisper encoder, xib …" >&2
w_xib=$("$bin" whisper "$reps")
echo "audio bench: whisper encoder, transformers …" >&2
w_hf=$("$py" tools/bench_audio.py whisper "$model" "$reps")

row() {  # name, seconds, xib seconds, audio seconds
  awk -v n="$1" -v s="$2" -v x="$3" -v a="$4" 'BEGIN { printf "| %s | %.4f s | %.0f× real time | %.2f× |\n", n, s, a / s, s / x }'
}
fx=$(field "$r_xib_128" seconds)
fx80=$(field "$r_xib_80" seconds)
wx=$(field "$w_xib" seconds)
table=$(
  echo "| implementation | median time | speed | time ÷ xib |"
  echo "|---|---|---|---|"
  row "xib Kaldi fbank, 128 bins (BEATs)" "$fx" "$fx" "$seconds"
  row "torchaudio.compliance.kaldi.fbank, 128 bins" "$(field "$r_ta_128" seconds)" "$fx" "$seconds"
  row "xib Kaldi fbank, 80 bins" "$fx80" "$fx80" "$seconds"
  row "torchaudio.compliance.kaldi.fbank, 80 bins" "$(field "$r_ta_80" seconds)" "$fx80" "$seconds"
  row "kaldi-native-fbank (OnlineFbank), 80 bins" "$(field "$r_knf_80" seconds)" "$fx80" "$seconds"
  row "xib Whisper tiny.en encoder, 30-s window" "$wx" "$wx" 30
  row "transformers WhisperEncoder, same weights" "$(field "$w_hf" seconds)" "$wx" 30
)
echo "$table"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
versions=$("$py" -c 'import torch, torchaudio, transformers, kaldi_native_fbank as k
v = getattr(k, "__version__", "?")
print(f"PyTorch {torch.__version__}, torchaudio {torchaudio.__version__}, transformers {transformers.__version__}, kaldi-native-fbank {v}")')
{
  echo
  echo "## Audio front end and encoder, $(date -u +%Y-%m-%d)"
  echo
  echo "Fbank: $seconds s of 16-kHz audio (BEATs' settings: 25/10 ms, ×2^15, normalised; 128 and 80 bins); Whisper:"
  echo "one [1, 80, 3000] window through tiny.en's encoder. Threads: xib's fbank splits frames over every core, torchaudio $(field "$r_ta_128" threads);"
  echo "encoder: xib $(field "$w_xib" threads), PyTorch $(field "$w_hf" threads)."
  echo "Median of $reps calls after a warm-up, each side in its own process; $cpu, $(nproc) cores; $versions."
  echo
  echo "$table"
} >>"$out"
echo "appended to $out"
