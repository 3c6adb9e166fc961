#!/usr/bin/env bash
# Installs the Debian packages the engine builds and tests with (needs root; a no-op when present).
# Arguments name further packages (tools/scripts/test_sanitizers.sh adds clang and its runtimes).
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config catch2 libstb-dev libjpeg62-turbo-dev zlib1g-dev nlohmann-json3-dev
      libopenblas-dev python3 libopenmpi-dev openmpi-bin iproute2 "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# cuobjdump / nvdisasm (the toolkit here lacks them) from PyPI, for `srgan bench counters`' SASS
# counters; optional: without them (offline, say) the counters say the SASS part is unavailable.
if ! command -v cuobjdump >/dev/null && ! python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["purelib"], "nvidia/cu13/bin/cuobjdump")))' 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm >/dev/null 2>&1 ||
    echo "setup: could not install nvidia-cuda-cuobjdump from PyPI (offline?); bench counters will lack SASS counters" >&2
fi
