#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds, runs every test with ctest.
# CUDA tests report "skipped" (not passed) on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup_deps.sh
tools/scripts/build.sh "$@"
cd build
ctest --output-on-failure -j"$(nproc)"
