#!/usr/bin/env python3
"""Plots a training run's train_log.jsonl (written by `srgan train`) as PNG curves.

usage: /usr/bin/python3 tools/scripts/plot_log.py RUN_DIR [-o OUT.png] [--smooth N]

Panels: generator loss terms (log scale), discriminator loss and D outputs (GAN phase),
validation PSNR, and the validation artefact metrics when the log has them (fixed pattern and
colour shift in levels, sharpness ratio; docs/data.md). Needs Debian's python3-matplotlib.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def moving_average(values, n):
    if n <= 1 or len(values) < n:
        return values
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run folder holding train_log.jsonl (or the file itself)")
    ap.add_argument("-o", "--out", help="output PNG (default RUN/curves.png)")
    ap.add_argument("--smooth", type=int, default=20, help="moving-average window in steps")
    a = ap.parse_args()
    path = a.run if a.run.endswith(".jsonl") else os.path.join(a.run, "train_log.jsonl")
    if not os.path.exists(path):
        sys.exit(f"plot_log: {path} does not exist")
    steps, val = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"plot_log: {path}:{n}: not JSON ({e})")
            (val if "val_psnr" in r else steps).append(r)
    if not steps:
        sys.exit(f"plot_log: {path} holds no training steps")
    gan = any("d_total" in r for r in steps)
    artefacts = any("val_fixed_pattern" in r for r in val)
    panels = (3 if gan else 2) + (1 if artefacts else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4))
    x = [r["step"] for r in steps]
    ax = axes[0]
    for key in ["pixel_mse", "content", "vgg", "gradient_l1", "low_frequency_l1", "phase_mean_l1", "feature_match",
                "adversarial", "g_total"]:
        ys = [r.get(key) for r in steps]
        if all(v is not None for v in ys) and (key != "g_total" or gan):
            ax.plot(x, moving_average(ys, a.smooth), label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("generator loss terms")
    ax.legend()
    if gan:
        ax = axes[1]
        for key in ["d_total", "d_hr", "d_sr"]:
            ax.plot(x, moving_average([r[key] for r in steps], a.smooth), label=key)
        ax.set_xlabel("step")
        ax.set_title("discriminator: loss, mean D(HR), mean D(SR)")
        ax.legend()
    ax = axes[-2] if artefacts else axes[-1]
    if val:
        ax.plot([r["step"] for r in val], [r["val_psnr"] for r in val], "o-")
    ax.set_xlabel("step")
    ax.set_ylabel("dB")
    ax.set_title("validation PSNR (Y, border 4)")
    if artefacts:
        ax = axes[-1]
        rows = [r for r in val if "val_fixed_pattern" in r]
        vx = [r["step"] for r in rows]
        ax.plot(vx, [r["val_fixed_pattern"] for r in rows], "o-", label="fixed pattern (levels)")
        for c, name in enumerate("RGB"):
            ys = [r["val_colour_shift"][c] if len(r["val_colour_shift"]) > c else None for r in rows]
            if all(v is not None for v in ys):
                ax.plot(vx, ys, ".--", color="rgb"[c], label=f"colour shift {name} (levels)")
        sharp = [r["val_sharpness"] for r in rows]
        if all(v is not None for v in sharp):
            ax.plot(vx, sharp, "s-", color="k", label="sharpness (1 = HR)")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_xlabel("step")
        ax.set_title("validation artefacts (docs/data.md)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = a.out or os.path.join(os.path.dirname(path), "curves.png")
    fig.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main()
