#!/usr/bin/env bash
# Builds and tests the project here with the versions the lent GPU machine has and this Debian 12
# machine does not: Catch2 3 (there 3.4; here 3.7.1, built from Debian trixie's source package)
# and CMake 4 (from PyPI), so a break that only those versions show costs no device time. It
# found that `--warn NoTests` made every test fail under Catch2 3 (2026-11-26).
# Runs the CPU tests, the CUDA tests (which must report skipped here) and the CUDA emulator's
# self-test; ALL=1 runs the whole suite (the emulated kernel tests add about 5 minutes).
# Needs network access to deb.debian.org and PyPI. Work folder: WORK (default /tmp/gpu-toolchain).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${WORK:-/tmp/gpu-toolchain}
catch_version=3.7.1
mkdir -p "$work"

if [ ! -x "$work/cmake4/bin/cmake" ]; then
  python3 -m venv "$work/cmake4"
  "$work/cmake4/bin/pip" install -q "cmake>=4,<5"
fi
cmake4="$work/cmake4/bin/cmake"
ctest4="$work/cmake4/bin/ctest"

if [ ! -f "$work/catch2/lib/cmake/Catch2/Catch2Config.cmake" ]; then
  tarball="catch2_${catch_version}.orig.tar.gz"
  curl -sSf -o "$work/$tarball" "http://deb.debian.org/debian/pool/main/c/catch2/$tarball"
  tar -xzf "$work/$tarball" -C "$work"
  "$cmake4" -S "$work/Catch2-$catch_version" -B "$work/catch2-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$work/catch2" -DBUILD_TESTING=OFF >/dev/null
  "$cmake4" --build "$work/catch2-build" -j"$(nproc)" >/dev/null
  "$cmake4" --install "$work/catch2-build" >/dev/null
fi

build="$work/build"
cuda=()
[ -x /usr/local/cuda/bin/nvcc ] && cuda=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCMAKE_CUDA_ARCHITECTURES=90)
"$cmake4" -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCatch2_DIR="$work/catch2/lib/cmake/Catch2" \
  "${cuda[@]}" | grep -E "^-- SRGAN" >&2
"$cmake4" --build "$build" -j"$(nproc)"
if [ "${ALL:-0}" = 1 ]; then
  "$ctest4" --test-dir "$build" -j"$(nproc)" --output-on-failure
else
  "$ctest4" --test-dir "$build" -j"$(nproc)" --output-on-failure -L "cpu|cuda"
  "$ctest4" --test-dir "$build" --output-on-failure -R "^emu_test_emulator"
fi
echo "check_gpu_toolchain: Catch2 $catch_version and $("$cmake4" --version | head -1): passed" >&2
