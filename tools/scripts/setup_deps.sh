#!/usr/bin/env bash
# Installs the Debian packages the engine builds and tests with (needs root; a no-op when present).
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config catch2 libstb-dev zlib1g-dev nlohmann-json3-dev libopenblas-dev python3
      libopenmpi-dev openmpi-bin iproute2)
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
