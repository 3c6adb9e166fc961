#!/usr/bin/env bash
# Configures and builds the engine into build/ (CUDA compiled in when nvcc is found, also at
# /usr/local/cuda/bin/nvcc when it is not on PATH). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  extra+=("-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc")
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${extra[@]}" "$@" >build.configure.log 2>&1 || {
  cat build.configure.log >&2
  exit 1
}
grep -E "^-- SRGAN" build.configure.log >&2 || true
cmake --build build -j"$(nproc)"
