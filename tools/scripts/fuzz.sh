#!/usr/bin/env bash
# Fuzzes one libFuzzer harness of tests/fuzz for SECONDS (docs/testing.md):
#   tools/scripts/fuzz.sh NAME SECONDS [more libFuzzer flags]
# NAME: image_read, exif, png_roundtrip or safetensors. First builds (or updates) the clang
# ASan + UBSan + libFuzzer build in $BUILD_DIR (default build-fuzz), unless NO_BUILD=1. The
# working corpus is $WORK/NAME/corpus (WORK default $BUILD_DIR/fuzz-work), started from the
# committed seeds in tests/fuzz/corpus/NAME, which a run never writes (docs/testing.md says how
# to merge finds). A crash leaves crash-* in $WORK/NAME and fails the script. The last line sums
# the run up: executions, coverage (cov: edges, ft: features), corpus size, crashes.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: fuzz.sh NAME SECONDS [libFuzzer flags]}
secs=${2:?usage: fuzz.sh NAME SECONDS [libFuzzer flags]}
shift 2
build=${BUILD_DIR:-build-fuzz}
[ -f "tests/fuzz/fuzz_$name.cpp" ] || { echo "fuzz.sh: no harness tests/fuzz/fuzz_$name.cpp" >&2; exit 2; }
if [ "${NO_BUILD:-0}" != 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    mkdir -p "$build"
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DSRGAN_FUZZ=ON -DSRGAN_CUDA=OFF >"$build/configure.log"
  fi
  cmake --build "$build" --target "fuzz_$name"
fi
work=${WORK:-$build/fuzz-work}/$name
mkdir -p "$work/corpus"
findings() { find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l; }
before=$(findings)
dict=()
[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
# -timeout: an input that takes 25 s is a finding too (a decoder stuck in a loop).
rc=0
"$build/tests/fuzz/fuzz_$name" -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$work/" "${dict[@]}" "$@" "$work/corpus" "tests/fuzz/corpus/$name" >"$work/log.txt" 2>&1 || rc=$?
last=$(grep -E '^#[0-9]+' "$work/log.txt" | tail -1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$work/log.txt")
echo "fuzz $name: ${secs}s, ${execs:-?} executions; last status: ${last:-none}; $(ls "$work/corpus" | wc -l) files in $work/corpus; new findings $(($(findings) - before)); exit $rc"
if [ "$rc" -ne 0 ]; then
  grep -E -A30 "ERROR|runtime error|disagree|refused" "$work/log.txt" | head -60 >&2
  exit "$rc"
fi
