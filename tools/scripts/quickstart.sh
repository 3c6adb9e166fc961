#!/usr/bin/env bash
# The README's first command: from a fresh Debian machine to an upscaled photograph.
# Installs the Debian packages, builds the `srgan` command (CPU-only unless an NVIDIA GPU is
# present, which keeps the build short), upscales the bundled sample photo 4x with the bundled
# model and prints where the result is and its PSNR beside bicubic's.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup_deps.sh
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  BUILD_DIR=build TARGET=srgan tools/scripts/build.sh
  bin=build/tools/srgan
else
  BUILD_DIR=build-cpu TARGET=srgan tools/scripts/build.sh -DSRGAN_CUDA=OFF -DSRGAN_BUILD_TESTS=OFF
  bin=build-cpu/tools/srgan
fi
out=out/quickstart
mkdir -p "$out"
echo
echo "== 4x super-resolution of docs/sample/ladybird.png (MATLAB-bicubic LR -> bundled SRResNet) =="
"$bin" eval --model models/pretrained/srresnet_x4.safetensors --data docs/sample --save-dir "$out"
echo
echo "input (LR, 96x72):      $out/ladybird_lr.png"
echo "output (SR x4, 384x288): $out/ladybird_x4.png"
echo "PSNR_Y above is the model's; bicubic_PSNR is the baseline on the same LR; gain_dB the difference."
echo "Your own photos: $bin upscale PHOTO.jpg -o PHOTO_x4.png"
