#!/usr/bin/env bash
# Trains a tiny SRGAN on the CPU in a few minutes, to watch a GAN learn (docs/tiny-gan.md):
#   1. pretrain: a small generator (4 blocks x 32 channels) learns 4x upscaling with pixel MSE;
#   2. gan:      a small discriminator joins, and the generator is trained to fool it;
# then prints D's and G's losses and D(real), D(fake) along the way, and writes a before/after
# picture (bicubic | after pretraining | after the GAN phase | original).
# Data: the photographs in docs/sample/ (in this repository); validation on the same folder.
#
# usage: tools/scripts/tiny_gan.sh [--quick] [OUT_DIR]      (default OUT_DIR: runs/tiny_gan)
#   --quick   a few steps of each phase (what CI runs): checks the path, learns nothing
# Environment: SRGAN (the srgan binary; default build/tools/srgan, built if missing),
#   PRETRAIN_STEPS, GAN_STEPS, ADV_WEIGHT (override the defaults below).
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
out=${1:-runs/tiny_gan}
srgan=${SRGAN:-build/tools/srgan}
if [ ! -x "$srgan" ]; then
  echo "tiny_gan: building srgan first" >&2
  TARGET=srgan tools/scripts/build.sh >&2
fi

if [ $quick = 1 ]; then pre=${PRETRAIN_STEPS:-6}; gan=${GAN_STEPS:-6}; every=3
else pre=${PRETRAIN_STEPS:-600}; gan=${GAN_STEPS:-900}; every=300; fi
adv=${ADV_WEIGHT:-1e-3}
data=docs/sample
common=(--data "$data" --val "$data" --device cpu --blocks 4 --width 32 --batch 8 --crop 48
        --workers 1 --log-every 25 --seed 1)
# Debian's python3 (which has python3-pil and python3-matplotlib when installed) over any other.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
rm -rf "$out"
mkdir -p "$out"

start=$(date +%s)
echo "== 1. pretraining the generator (pixel MSE), $pre steps" >&2
"$srgan" train "${common[@]}" --phase pretrain --steps "$pre" --lr 1e-3 --val-every "$pre" --out "$out/pretrain"
echo "== 2. the GAN phase: D joins, adversarial weight $adv, $gan steps" >&2
"$srgan" train "${common[@]}" --phase gan --init "$out/pretrain/best.safetensors" --steps "$gan" --lr 1e-4 \
  --d-width 16 --adv-weight "$adv" --val-every "$every" --out "$out/gan"
elapsed=$(( $(date +%s) - start ))

# What happened, from the logs: the mean of each term over windows of steps.
"$py" - "$out" "$elapsed" "$pre" "$gan" <<'EOF'
import json, os, sys
out, elapsed = sys.argv[1], int(sys.argv[2])
def rows(phase):
    steps, vals = [], []
    for line in open(os.path.join(out, phase, "train_log.jsonl")):
        r = json.loads(line)
        if "val_psnr" in r: vals.append(r)
        else: steps.append(r)
    return steps, vals
def table(steps, keys, n=6):
    w = max(1, len(steps) // n)
    print("  steps        " + "".join(f"{k:>12}" for k in keys))
    for i in range(0, len(steps), w):
        chunk = steps[i:i + w]
        means = [sum(r[k] for r in chunk) / len(chunk) for k in keys]
        print(f"  {chunk[0]['step']:>5}-{chunk[-1]['step']:<6} " + "".join(f"{m:12.4g}" for m in means))
pre, pre_val = rows("pretrain")
gan, gan_val = rows("gan")
want_pre, want_gan = int(sys.argv[3]), int(sys.argv[4])
if len(pre) != want_pre or len(gan) != want_gan or not pre_val or not gan_val:
    sys.exit(f"tiny_gan: the logs hold {len(pre)} pretrain and {len(gan)} GAN steps, "
             f"{len(pre_val)} and {len(gan_val)} validations (expected {want_pre} and {want_gan} steps)")
print(f"tiny GAN: {len(pre)} pretrain + {len(gan)} GAN steps in {elapsed} s")
print("1. pretraining (pixel MSE):")
table(pre, ["pixel_mse"])
print("2. GAN phase (D: d_total = BCE(D(HR),1) + BCE(D(SR),0); d_hr = D(HR), d_sr = D(SR), as probabilities):")
table(gan, ["d_total", "d_hr", "d_sr", "adversarial", "pixel_mse"])
for name, v in (("after pretraining", pre_val), ("after the GAN phase", gan_val)):
    if v: print(f"validation PSNR {name}: {v[-1]['val_psnr']:.2f} dB")
EOF

# The before/after picture: the last sample grid of each phase is bicubic | SR | HR.
before=$(ls -v "$out"/pretrain/sample_step*.png | tail -1)
after=$(ls -v "$out"/gan/sample_step*.png | tail -1)
if "$py" -c "import PIL" 2>/dev/null; then
  "$py" - "$before" "$after" "$out/before_after.png" <<'EOF'
import sys
from PIL import Image
a, b = Image.open(sys.argv[1]).convert("RGB"), Image.open(sys.argv[2]).convert("RGB")
w = a.width // 3  # each grid is bicubic | SR | HR
tiles = [a.crop((0, 0, w, a.height)), a.crop((w, 0, 2 * w, a.height)), b.crop((w, 0, 2 * w, b.height)),
         a.crop((2 * w, 0, 3 * w, a.height))]
pic = Image.new("RGB", (4 * w + 3 * 4, a.height), (255, 255, 255))
for i, t in enumerate(tiles):
    pic.paste(t, (i * (w + 4), 0))
pic.save(sys.argv[3])
print("before/after (bicubic | after pretraining | after GAN | original):", sys.argv[3])
EOF
else
  echo "before: $before (bicubic | SR | HR); after: $after (python3-pil joins them into one picture)"
fi
if [ $quick = 0 ] && "$py" -c "import matplotlib" 2>/dev/null; then
  "$py" tools/scripts/plot_log.py "$out/gan" -o "$out/gan_curves.png" >/dev/null && echo "curves: $out/gan_curves.png"
fi
