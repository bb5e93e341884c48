#!/usr/bin/env bash
# Installs the system packages xib needs (Debian bookworm; apt) and selects the OpenMP OpenBLAS
# as BLAS/LAPACK. Idempotent: when everything is present it only queries dpkg and exits.
# The packages are the `base` group below plus every system-packages.txt of the tree: each
# media library (kernel/media/<kind>/), modality (modalities/<name>/) and plugin
# (plugins/<name>/) lists its own, so adding one edits no shared script.
#
#   scripts/setup-deps.sh [--asan] [--with GROUP]... [--check] [--list]
#
#   --asan        also install the `asan` group (clang + its runtime, for XIB_SANITIZE builds)
#   --with GROUP  also install GROUP (see --list); may be repeated
#   --check       install nothing: report what is missing, exit 1 if anything is
#   --list        print the package groups and exit
set -euo pipefail

# Package groups. `base` is always installed; the others on request.
declare -A GROUPS_PKGS=(
  [base]="build-essential cmake ninja-build ccache pkg-config git libtorch-dev libopenblas0-openmp
          libboost-dev libboost-program-options-dev libyaml-cpp-dev libfmt-dev nlohmann-json3-dev
          doctest-dev python3 python3-pip python3-venv ca-certificates clang-format binutils
          libhdf5-dev python3-h5py libxxhash-dev"
  # The sanitizer runtime is versioned with clang; bookworm's default clang is 14.
  [asan]="clang libclang-rt-14-dev"
)
declare -A GROUPS_INFO=(
  [base]="compilers, LibTorch, OpenBLAS (OpenMP), Boost, yaml-cpp, fmt, nlohmann-json, doctest, python3+pip, binutils, HDF5 (+ h5py for the cache tests), xxHash (the cache's checksum)"
  [asan]="clang and its sanitizer runtime, for -DXIB_SANITIZE=address,undefined builds"
)

# The packages of a group, one a line.
pkgs_of() { local -a p; read -r -d '' -a p <<<"${GROUPS_PKGS[$1]}" || true; printf '%s\n' "${p[@]}"; }

# The parts' own lists: every system-packages.txt under kernel/media, modalities, plugins and
# datasets ('#' comments, blank lines and surrounding spaces ignored).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
part_lists() {
  find "$root/kernel/media" "$root/modalities" "$root/plugins" "$root/datasets" -maxdepth 2 \
    -name system-packages.txt -type f 2>/dev/null | sort
}
part_pkgs() {
  local f
  while read -r f; do sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$f" | grep -v '^$' || true; done \
    < <(part_lists)
}

say() { printf 'setup-deps: %s\n' "$*"; }
die() { printf 'setup-deps: error: %s\n' "$1" >&2; exit "${2:-1}"; }

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }

groups=(base)
check_only=0
while (($#)); do
  case "$1" in
    --asan) groups+=(asan) ;;
    --with)
      (($# >= 2)) || die "--with needs a group name (one of: ${!GROUPS_PKGS[*]})" 2
      [[ -n "${GROUPS_PKGS[$2]+x}" ]] || die "unknown group '$2' (known: ${!GROUPS_PKGS[*]})" 2
      groups+=("$2"); shift ;;
    --check) check_only=1 ;;
    --list)
      for g in base asan; do
        words=$(pkgs_of "$g")
        printf '%-6s %s\n       %s\n' "$g" "${GROUPS_INFO[$g]}" "${words//$'\n'/ }"
      done
      while read -r f; do
        words=$(sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$f" | grep -v '^$' || true)
        printf '%-6s %s\n       %s\n' part "${f#"$root"/}" "${words//$'\n'/ }"
      done < <(part_lists)
      exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" 2 ;;
  esac
  shift
done

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  die "this script needs a Debian-based system (dpkg, apt-get); install the packages listed by --list by hand"
fi

# Root runs apt directly; otherwise sudo, when there is one.
SUDO=()
need_root() {
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "not root and no sudo: run this script as root"
    SUDO=(sudo)
  fi
}

# Every requested package, once, in order: the groups', then the parts' lists.
declare -A seen=()
wanted=()
add_wanted() {
  while read -r p; do
    [[ -z "$p" || -n "${seen[$p]+x}" ]] || { seen[$p]=1; wanted+=("$p"); }
  done
}
for g in "${groups[@]}"; do add_wanted < <(pkgs_of "$g"); done
add_wanted < <(part_pkgs)

# A package counts as present only when fully installed (not "deinstall ... config-files").
missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  say "all ${#wanted[@]} packages installed (groups: ${groups[*]}; and $(part_lists | wc -l) system-packages.txt)"
elif ((check_only)); then
  say "missing: ${missing[*]}"
else
  need_root
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get update (${#missing[@]} packages missing)"
  "${SUDO[@]}" apt-get update -qq
  say "installing: ${missing[*]}"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]} (see apt's message above)"
fi

# BLAS/LAPACK: LibTorch links the generic libblas.so.3/liblapack.so.3; the OpenMP OpenBLAS keeps
# its threads in the same OpenMP pool as LibTorch instead of oversubscribing the cores.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || true)
[[ -n "$multiarch" ]] || die "cannot tell the multiarch triplet (dpkg-architecture and gcc both failed)"
blas_missing=0
for lib in libblas.so.3 liblapack.so.3; do
  name="$lib-$multiarch"
  target="/usr/lib/$multiarch/openblas-openmp/$lib"
  if ! update-alternatives --list "$name" 2>/dev/null | grep -qxF "$target"; then
    if ((check_only)); then
      say "missing: alternative $target for $name"; blas_missing=1; continue
    fi
    die "$target is not a registered alternative for $name: is libopenblas0-openmp installed?"
  fi
  query=$(update-alternatives --query "$name")
  value=$(sed -n 's/^Value: //p' <<<"$query")
  mode=$(sed -n 's/^Status: //p' <<<"$query")
  # Manual mode pins the choice: installing another BLAS later must not switch it silently.
  if [[ "$value" == "$target" && "$mode" == manual ]]; then
    say "$lib: openblas-openmp already selected"
  elif ((check_only)) && [[ "$value" == "$target" ]]; then
    say "$lib: openblas-openmp selected (auto mode, not pinned)"
  elif ((check_only)); then
    say "not selected: $lib is ${value:-unset} ($mode mode), want $target"; blas_missing=1
  else
    need_root
    "${SUDO[@]}" update-alternatives --quiet --set "$name" "$target"
    say "$lib: selected $target"
  fi
done

if ((check_only)) && ((${#missing[@]} || blas_missing)); then
  say "run scripts/setup-deps.sh without --check to fix this"
  exit 1
fi
