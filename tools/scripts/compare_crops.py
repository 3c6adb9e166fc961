#!/usr/bin/env python3
"""Side-by-side crops of 4x results: bicubic | model 1 | model 2 ... | HR, magnified, as one PNG.

usage: /usr/bin/python3 tools/scripts/compare_crops.py --hr DIR --lr DIR --model NAME=FILE ...
           --crop IMAGE:X,Y,W,H ... [--zoom 4] [--srgan build/tools/srgan] -o OUT.png

--hr holds the originals (IMAGE.png), --lr their 4x downscales by MATLAB's bicubic (the same
LR that `srgan eval` makes; ../shared/data/reference_LRx4/selfexsr_matlab/<set>/ holds them as
img_NNN_SRF_4_LR.png, found by the image's alphabetical index, or IMAGE.png). Each model upscales
the whole LR image with `srgan upscale` once; X, Y, W, H are in HR pixels. Bicubic is PIL's
(Keys a = -0.5, as MATLAB's for upscaling). Rows: one per crop; columns: bicubic, the models in
the order given, HR; each cell magnified by --zoom with nearest neighbours, so that single
pixels (and a 4-pixel checkerboard) stay visible. Needs Debian's python3-pil.
"""
import argparse
import os
import subprocess
import sys
import tempfile

from PIL import Image, ImageDraw


def lr_path(lr_dir, hr_dir, name):
    direct = os.path.join(lr_dir, name + ".png")
    if os.path.exists(direct):
        return direct
    names = sorted(f[:-4] for f in os.listdir(hr_dir) if f.endswith(".png"))
    if name not in names:
        sys.exit(f"compare_crops: {name}.png is not in {hr_dir}")
    indexed = os.path.join(lr_dir, "img_%03d_SRF_4_LR.png" % (names.index(name) + 1))
    if not os.path.exists(indexed):
        sys.exit(f"compare_crops: no LR image for {name} in {lr_dir} ({direct} or {indexed})")
    return indexed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hr", required=True)
    ap.add_argument("--lr", required=True)
    ap.add_argument("--model", action="append", required=True, help="NAME=FILE (column title and weights)")
    ap.add_argument("--crop", action="append", required=True, help="IMAGE:X,Y,W,H in HR pixels")
    ap.add_argument("--zoom", type=int, default=4)
    ap.add_argument("--srgan", default="build/tools/srgan")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    models = [m.split("=", 1) for m in a.model]
    crops = []
    for c in a.crop:
        name, box = c.split(":", 1)
        x, y, w, h = (int(v) for v in box.split(","))
        crops.append((name, x, y, w, h))
    titles = ["bicubic"] + [n for n, _ in models] + ["HR"]
    with tempfile.TemporaryDirectory() as tmp:
        cache = {}

        def upscaled(name, model_file):
            key = (name, model_file)
            if key not in cache:
                out = os.path.join(tmp, f"{len(cache)}.png")
                subprocess.run([a.srgan, "upscale", lr_path(a.lr, a.hr, name), "-o", out, "--model", model_file],
                               check=True, stdout=subprocess.DEVNULL)
                cache[key] = Image.open(out).convert("RGB")
            return cache[key]

        rows = []
        for name, x, y, w, h in crops:
            hr = Image.open(os.path.join(a.hr, name + ".png")).convert("RGB")
            lr = Image.open(lr_path(a.lr, a.hr, name)).convert("RGB")
            bic = lr.resize((lr.width * 4, lr.height * 4), Image.BICUBIC)
            cells = [bic] + [upscaled(name, f) for _, f in models] + [hr]
            box = (x, y, x + w, y + h)
            rows.append([c.crop(box).resize((w * a.zoom, h * a.zoom), Image.NEAREST) for c in cells])
        gap, title_h = 4, 18
        cw = max(r[0].width for r in rows)
        width = len(titles) * (cw + gap) - gap
        height = title_h + sum(r[0].height + gap for r in rows) - gap
        sheet = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(sheet)
        for i, t in enumerate(titles):
            draw.text((i * (cw + gap) + 4, 3), t, fill="black")
        y0 = title_h
        for r in rows:
            for i, cell in enumerate(r):
                sheet.paste(cell, (i * (cw + gap), y0))
            y0 += r[0].height + gap
        tmp_out = a.out + ".tmp"
        sheet.save(tmp_out, format="PNG", optimize=True)
        os.replace(tmp_out, a.out)
    print(a.out)


if __name__ == "__main__":
    main()
