#!/usr/bin/env bash
# CI's sanitizer stage (tools/scripts/test.sh runs it after the normal tests; docs/testing.md):
# a CPU-only clang build with AddressSanitizer + UBSan and the libFuzzer harnesses in build-fuzz,
# then every test of that build under the sanitizers (minus SAN_EXCLUDE), each harness once
# over its committed corpus (label fuzz), and each harness fuzzed for FUZZ_SECONDS from its seeds,
# as many at a time as there are cores.
# Environment: BUILD_DIR (default build-fuzz), FUZZ_SECONDS (default 60), SAN_EXCLUDE (a ctest -E
# regex; default none: all of them take 87 s on 2 cores, docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup_deps.sh clang libclang-rt-14-dev
build=${BUILD_DIR:-build-fuzz}
exclude=${SAN_EXCLUDE-}
SECONDS=0
mkdir -p "$build"
if ! cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
     -DSRGAN_FUZZ=ON -DSRGAN_CUDA=OFF >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  exit 1
fi
cmake --build "$build" -j"$(nproc)"
echo "sanitizers: built in ${SECONDS}s" >&2
t0=$SECONDS
export UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1
(cd "$build" && ctest --output-on-failure -j"$(nproc)" -LE mpi ${exclude:+-E "$exclude"})
# The MPI tests (label mpi) without LeakSanitizer: Open MPI's runtime keeps about 120 KB of
# allocations from MPI_Init to exit on purpose, which LSan reports as leaks (3,350 of them);
# ASan's other checks and UBSan stay on.
(cd "$build" && ASAN_OPTIONS=detect_leaks=0:check_initialization_order=1 \
   ctest --output-on-failure -j"$(nproc)" -L mpi ${exclude:+-E "$exclude"})
echo "sanitizers: tests in $((SECONDS - t0))s" >&2
t0=$SECONDS
# One harness per core at a time (each libFuzzer process uses one); xargs fails if any of them does.
printf '%s\n' image_read png_roundtrip safetensors exif |
  xargs -P "$(nproc)" -I{} env NO_BUILD=1 BUILD_DIR="$build" tools/scripts/fuzz.sh {} "${FUZZ_SECONDS:-60}"
echo "sanitizers: fuzzing in $((SECONDS - t0))s; whole stage ${SECONDS}s" >&2
