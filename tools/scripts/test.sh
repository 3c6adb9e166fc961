#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds, runs every test with ctest,
# then the sanitizer stage (tools/scripts/test_sanitizers.sh: a clang ASan + UBSan build of the
# CPU tests and about 60 s of fuzzing per harness; SRGAN_SANITIZERS=0 skips it).
# CUDA tests report "skipped" (not passed) on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup_deps.sh
tools/scripts/build.sh "$@"
# Every test but the label emu_orders (the emulated tests again in each fixed block order, about
# twice their time: run it with `ctest -L emu_orders`, docs/testing.md).
(cd build && ctest --output-on-failure -j"$(nproc)" -LE emu_orders)
if [ "${SRGAN_SANITIZERS:-1}" != 0 ]; then
  tools/scripts/test_sanitizers.sh
fi
