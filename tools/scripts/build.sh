#!/usr/bin/env bash
# Configures and builds the engine (CUDA compiled in when nvcc is found, also at
# /usr/local/cuda/bin/nvcc when it is not on PATH). Environment: BUILD_DIR (default build),
# TARGET (default: everything). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${BUILD_DIR:-build}
extra=()
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  extra+=("-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc")
fi
mkdir -p "$build_dir"
if ! cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${extra[@]}" "$@" >"$build_dir/configure.log" 2>&1; then
  cat "$build_dir/configure.log" >&2
  exit 1
fi
grep -E "^-- SRGAN" "$build_dir/configure.log" >&2 || true
if [ -n "${TARGET:-}" ]; then
  cmake --build "$build_dir" -j"$(nproc)" --target "$TARGET"
else
  cmake --build "$build_dir" -j"$(nproc)"
fi
