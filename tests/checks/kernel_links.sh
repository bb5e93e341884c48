#!/usr/bin/env bash
# Fails when libxib_kernel.so links an image codec itself: the codecs live in the media
# libraries (kernel/media/), which modalities link and the kernel does not. ldd would also show
# what LibTorch pulls in (Debian's links libpng and libjpeg for its own reasons), so this reads
# the library's own NEEDED entries and its undefined symbols.
#
#   tests/checks/kernel_links.sh path/to/libxib_kernel.so
set -euo pipefail
lib=$1
[[ -f "$lib" ]] || { echo "no such library: $lib" >&2; exit 1; }
codecs='png|jpeg|jpg|turbojpeg|webp|tiff|avcodec|avformat|swscale|sndfile|soxr'
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "libxib_kernel.so needs: $(echo $needed)"
bad=$(grep -Ei "lib($codecs)" <<<"$needed" || true)
symbols=$(nm -D --undefined-only "$lib" | grep -Ei " ($codecs)_" || true)
if [[ -n "$bad" || -n "$symbols" ]]; then
  echo "libxib_kernel.so links a codec:" >&2
  [[ -z "$bad" ]] || echo "  NEEDED: $bad" >&2
  [[ -z "$symbols" ]] || echo "  symbols: $(head -5 <<<"$symbols")" >&2
  exit 1
fi
echo "libxib_kernel.so links no codec"
