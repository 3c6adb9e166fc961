#!/usr/bin/env python3
"""Roofline picture of `srgan bench counters --json` (H100 ESTIMATES, no GPU measurement).

usage: python3 tools/scripts/plot_roofline.py COUNTERS.json -o OUT.png

One point per row with useful FLOPs (convolutions, linear, GEMM): x = useful FLOPs per DRAM byte
(the compulsory bytes the emulator counted), y = useful FLOPs / the estimated time. Lines: the
fp32 (51 TFLOP/s), TF32 (398 TFLOP/s) and BF16 (796 TFLOP/s, assumed) ceilings, DRAM (2.9 TB/s) and the assumed L2 (5.5 TB/s)
slopes, all from the JSON's "ceilings". Colour = variant. Needs matplotlib (Debian:
python3-matplotlib).
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    try:
        with open(a.json) as f:
            doc = json.load(f)
        ceil = doc["ceilings"]
        rows = doc["rows"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"plot_roofline: {a.json}: not a bench counters JSON ({e})")

    pts = {}
    for r in rows:
        fl, ms, dram = r.get("useful_flops", 0), r.get("estimate_h100_ms", 0), r.get("dram_bytes", 0)
        if "error" in r or fl <= 0 or ms <= 0 or dram <= 0:
            continue
        pts.setdefault(r["variant"], []).append((fl / dram, fl / (ms * 1e-3), r["op"], r["shape"]))
    if not pts:
        sys.exit("plot_roofline: no row with useful FLOPs and an estimate")

    fig, ax = plt.subplots(figsize=(11, 7))
    xs = [p[0] for v in pts.values() for p in v]
    x = [min(xs) / 2, max(xs) * 2]
    ceilings = [(ceil["fp32_flops"], "fp32 51 TFLOP/s"), (ceil["tf32_flops"], "TF32 398 TFLOP/s")]
    if "bf16_flops_assumed" in ceil:
        ceilings.append((ceil["bf16_flops_assumed"], "BF16 796 TFLOP/s (assumed)"))
    for peak, name in ceilings:
        ax.plot(x, [peak, peak], "k-", lw=0.8)
        ax.text(x[0], peak * 1.08, name, fontsize=8)
    for bw, name, style in ((ceil["dram_bytes_per_s"], "DRAM 2.9 TB/s", "k--"),
                            (ceil["l2_bytes_per_s_assumed"], "L2 5.5 TB/s (assumed)", "k:")):
        ax.plot(x, [bw * xi for xi in x], style, lw=0.8)
        ax.text(x[0] * 1.1, bw * x[0] * 1.3, name, fontsize=8)
    for v, p in sorted(pts.items()):
        ax.scatter([q[0] for q in p], [q[1] for q in p], label=v, s=22)
        for q in p:
            if q[2] == "conv2d fwd+bwd" and "3x3->64" in q[3] and q[3].startswith("16x") and "64 3x3" in q[3]:
                ax.annotate(q[3].split()[0], (q[0], q[1]), fontsize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("useful FLOPs per DRAM byte (emulator counts)")
    ax.set_ylabel("useful FLOP/s at the ESTIMATED H100 time")
    ax.set_title("srgan bench counters: H100 roofline ESTIMATE, no GPU measurement (%s)" % doc.get("date", ""))
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
