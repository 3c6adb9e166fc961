#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds, runs every test with ctest,
# then the sanitizer stage (tools/scripts/test_sanitizers.sh: a clang ASan + UBSan build of the
# CPU tests and about 60 s of fuzzing per harness; SRGAN_SANITIZERS=0 skips it).
# CUDA tests report "skipped" (not passed) on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup_deps.sh
tools/scripts/build.sh "$@"
(cd build && ctest --output-on-failure -j"$(nproc)")
if [ "${SRGAN_SANITIZERS:-1}" != 0 ]; then
  tools/scripts/test_sanitizers.sh
fi
