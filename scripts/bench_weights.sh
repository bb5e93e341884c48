#!/usr/bin/env bash
# Weights-loading benchmark (called by scripts/bench.sh; `make bench`). Generates a ≥ 1 GB
# safetensors file with our writer (build/bench/, git-ignored) and the same weights as a torch.save
# .pt, then loads them, in the same run, with: xib mmap (open + sum every byte), xib read-fully
# (read the file into memory, parse, sum), Python `safetensors` load_file (numpy) and torch.load.
# Each loader runs in its own process; time is measured inside it (after imports) and peak RSS
# is the process's getrusage maximum (so Python's includes the interpreter and its imports).
# Best of WEIGHTS_REPS (3) runs; runs are warm-cache (the page cache cannot be dropped here).
#
#   scripts/bench_weights.sh [BUILD_DIR] [OUT.md]
#   WEIGHTS_MB=1024 ST_PYTHON=… TORCH_PYTHON=… (default: $XIB_BENCH_PYTHON, set up by scripts/bench-env.sh)
set -euo pipefail
build=${1:-build}
out=${2:-docs/benchmarks.md}
mb=${WEIGHTS_MB:-1024}
reps=${WEIGHTS_REPS:-3}
st_python=${ST_PYTHON:-${XIB_BENCH_PYTHON:-.venv-bench/bin/python}}
torch_python=${TORCH_PYTHON:-${XIB_BENCH_PYTHON:-.venv-bench/bin/python}}
bench_bin="$build/bin/bench_weights"
dir="$build/bench"
st="$dir/weights-${mb}mb.safetensors"
pt="$dir/weights-${mb}mb.pt"

[ -x "$bench_bin" ] || { echo "bench_weights: $bench_bin missing: build the bench_weights target" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$st" ] || "$bench_bin" generate "$st" "$mb"
bytes=$(stat -c %s "$st")
gb=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }')

have_st=0; have_torch=0
"$st_python" -c 'import safetensors.numpy' 2>/dev/null && have_st=1
"$torch_python" -c 'import torch' 2>/dev/null && have_torch=1
if ((have_torch)) && [ ! -f "$pt" ]; then
  # The same tensors as a torch.save state dict (safetensors header parsed by hand: this
  # environment need not have the safetensors package).
  "$torch_python" - "$st" "$pt" <<'PY'
import json, struct, sys, torch
src, dst = sys.argv[1:]
dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = bytearray(f.read())
sd = {}
for name, e in header.items():
    if name == "__metadata__":
        continue
    a, b = e["data_offsets"]
    sd[name] = torch.frombuffer(data, dtype=dt[e["dtype"]], count=(b - a) // torch.tensor([], dtype=dt[e["dtype"]]).element_size(), offset=a).reshape(e["shape"]).clone()
torch.save(sd, dst)
PY
fi

# Each command prints "seconds=… rss_mb=…"; keep the fastest run's line.
best_of() {
  local best="" line t
  for _ in $(seq "$reps"); do
    line=$("$@") || { echo "benchmark command failed: $*" >&2; exit 1; }
    line=$(grep -o 'seconds=[0-9.]* rss_mb=[0-9.]*' <<<"$line")
    t=${line#seconds=}; t=${t%% *}
    if [ -z "$best" ] || awk -v a="$t" -v b="${best#seconds=}" 'BEGIN { split(b, x, " "); exit !(a < x[1]) }'; then best=$line; fi
  done
  echo "$best"
}

py_st='import resource, sys, time
import safetensors.numpy
t0 = time.perf_counter()
d = safetensors.numpy.load_file(sys.argv[1])
t = time.perf_counter() - t0
print(f"seconds={t:.4f} rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} n={len(d)}")'
py_torch='import resource, sys, time
import torch
t0 = time.perf_counter()
d = torch.load(sys.argv[1], weights_only=True)
t = time.perf_counter() - t0
print(f"seconds={t:.4f} rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} n={len(d)}")'

echo "weights loading: $gb GB safetensors ($st), best of $reps, warm cache"
cat "$st" >/dev/null
[ -f "$pt" ] && cat "$pt" >/dev/null
r_mmap=$(best_of "$bench_bin" mmap "$st")
r_read=$(best_of "$bench_bin" read "$st")
r_st=""; r_torch=""
((have_st)) && r_st=$(best_of "$st_python" -c "$py_st" "$st")
((have_torch)) && r_torch=$(best_of "$torch_python" -c "$py_torch" "$pt")

field() { local v=${1#*"$2"=}; echo "${v%% *}"; }
base_t=$(field "$r_mmap" seconds); base_m=$(field "$r_mmap" rss_mb)
row() {
  if [ -z "$2" ]; then echo "| $1 | skipped: $3 | | | | |"; return; fi
  awk -v name="$1" -v t="$(field "$2" seconds)" -v m="$(field "$2" rss_mb)" -v bt="$base_t" -v bm="$base_m" -v gb="$gb" \
    'BEGIN { printf "| %s | %.3f s | %.2f GB/s | %.2f× | %.0f MB | %.2f× |\n", name, t, gb / t, t / bt, m, m / bm }'
}
table=$(
  echo "| loader | best time | throughput | time ÷ xib mmap | peak RSS | RSS ÷ xib mmap |"
  echo "|---|---|---|---|---|---|"
  row "xib SafetensorsFile (mmap) + sum every byte" "$r_mmap"
  row "xib read whole file + parse + sum every byte" "$r_read"
  row "Python safetensors.numpy.load_file" "$r_st" "no safetensors package in $st_python"
  row "torch.load (weights_only, same tensors as .pt)" "$r_torch" "no torch in $torch_python"
)
echo "$table"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo
  echo "## Weights loading, $(date -u +%Y-%m-%d)"
  echo
  echo "$gb GB of f32/f16 tensors ($(stat -c %s "$st") bytes; the .pt holds the same tensors), best of $reps runs"
  echo "each in a fresh process; warm page cache (it cannot be dropped on this machine); $cpu, $(nproc) cores."
  echo "Time is measured inside each process, after imports; peak RSS is the process's maximum, so"
  echo "Python's includes the interpreter and its imports. mmap's RSS counts the mapped file pages."
  echo
  echo "$table"
} >>"$out"
echo "appended to $out"
