#!/usr/bin/env bash
# Prepares the git-ignored folder .carry/ that tools/scripts/gpu_check.sh needs on the lent GPU machine,
# which has neither Debian's stb headers nor ../shared (only the repository travels there):
#   .carry/stb/stb_image.h                       (from /usr/include/stb, Debian's libstb-dev)
#   .carry/zlib/zlib.h, zconf.h                  (Debian's zlib1g-dev, used by gpu_check.sh only
#                                                 when that machine lacks the package)
#   .carry/bench/*.py                            (the PyTorch anchors, ../shared/bench)
#   .carry/json/nlohmann/*.hpp                   (Debian's nlohmann-json3-dev, used by gpu_check.sh
#                                                 only when that machine lacks the package)
#   .carry/jpeg/include/*.h, lib/libjpeg.so.62    (Debian's libjpeg62-turbo-dev headers and library,
#                                                 used by gpu_check.sh only when that machine has no
#                                                 jpeglib.h; it needs only libc)
# Run it here, then call the device tool with carry [".carry"] and the command
#   bash tools/scripts/gpu_check.sh
# Environment: SHARED (default: ../shared beside the repository), STB_DIR (default /usr/include/stb).
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${SHARED:-../shared}
stb=${STB_DIR:-/usr/include/stb}
jpeg_lib=/usr/lib/x86_64-linux-gnu/libjpeg.so.62
for f in "$stb/stb_image.h" /usr/include/zlib.h /usr/include/zconf.h /usr/include/jpeglib.h "$jpeg_lib"; do
  [ -f "$f" ] || { echo "prepare_gpu_carry: $f not found (apt-get install libstb-dev zlib1g-dev libjpeg62-turbo-dev, or set STB_DIR)" >&2; exit 1; }
done
ls "$shared"/bench/*.py >/dev/null 2>&1 || { echo "prepare_gpu_carry: no $shared/bench/*.py (set SHARED)" >&2; exit 1; }
rm -rf .carry/stb .carry/bench .carry/json .carry/zlib .carry/jpeg
mkdir -p .carry/stb .carry/bench .carry/json .carry/zlib .carry/jpeg/include .carry/jpeg/lib
cp /usr/include/jpeglib.h /usr/include/jerror.h /usr/include/jmorecfg.h /usr/include/x86_64-linux-gnu/jconfig.h .carry/jpeg/include/
cp -L "$jpeg_lib" .carry/jpeg/lib/libjpeg.so.62
cp "$stb/stb_image.h" .carry/stb/
cp /usr/include/zlib.h /usr/include/zconf.h .carry/zlib/
json=${JSON_DIR:-/usr/include/nlohmann}
if [ -f "$json/json.hpp" ]; then cp -r "$json" .carry/json/; else echo "prepare_gpu_carry: note: $json/json.hpp not found, not carried" >&2; fi
cp "$shared"/bench/*.py .carry/bench/
git check-ignore -q .carry || echo "prepare_gpu_carry: warning: .carry/ is not git-ignored" >&2
du -sh .carry
ls -R .carry
