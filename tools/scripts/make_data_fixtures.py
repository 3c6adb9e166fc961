#!/usr/bin/python3
"""Independent numpy re-implementation of the data side, used to write the committed fixtures
under tests/fixtures/data/ and to check them against published references.

It shares no code with data/ (C++): MATLAB imresize 'bicubic' (recipe in ../shared/data/SOURCES.md),
BT.601 Y, PSNR, and SSIM as Wang's ssim_index.m (filter2 'valid' with an 11x11 Gaussian, sigma 1.5,
normalised to sum 1; K1=0.01, K2=0.03, L=255; mean of the map), cross-checked with skimage.

Images are numpy arrays of shape (H, W, C), uint8, channels last (the same HWC layout as data/).

usage:
  /usr/bin/python3 tools/scripts/make_data_fixtures.py            # write tests/fixtures/data/*
  /usr/bin/python3 tools/scripts/make_data_fixtures.py --verify   # bit-exact check vs reference_LRx4 (all sets)
  /usr/bin/python3 tools/scripts/make_data_fixtures.py --baseline # bicubic PSNR/SSIM on Set5 and Set14
  /usr/bin/python3 tools/scripts/make_data_fixtures.py --jpeg-only  # only the jpeg_* and io_adam7_* fixtures
Options: --shared DIR (default ../shared next to the repository).
"""
import argparse
import glob
import os
import sys

import numpy as np
from PIL import Image, ImageOps

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "data")


# ---------------------------------------------------------------- MATLAB imresize, bicubic
def cubic(x):
    """Keys cubic kernel, a = -0.5, as in MATLAB imresize.m."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1.0)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1.0) & (ax <= 2.0)))


def contributions(in_len, out_len, scale):
    """Weights (out_len, P) and 0-based clamped source indices (out_len, P) for one dimension."""
    kernel_width = 4.0
    if scale < 1.0:  # antialiasing: the kernel is stretched by 1/scale
        def h(x):
            return scale * cubic(scale * x)
        kernel_width = kernel_width / scale
    else:
        h = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(np.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    w = h(u[:, None] - ind)
    total = np.zeros(out_len)
    for j in range(taps):  # sequential sums, no pairwise reordering
        total = total + w[:, j]
    w = w / total[:, None]
    ind = (np.clip(ind, 1, in_len) - 1).astype(np.int64)  # replicate borders
    return w, ind


def resize_dim(img, axis, out_len, scale):
    """Resize a float64 (H, W, C) array along axis 0 or 1; result rounded half up, clipped to uint8."""
    w, ind = contributions(img.shape[axis], out_len, scale)
    src = np.moveaxis(img, axis, 0)  # (L, other, C)
    acc = np.zeros((out_len,) + src.shape[1:], dtype=np.float64)
    for j in range(w.shape[1]):
        acc = acc + w[:, j, None, None] * src[ind[:, j]]
    out = np.clip(np.floor(acc + 0.5), 0, 255)
    return np.moveaxis(out, 0, axis)


def imresize(img, scale):
    """MATLAB imresize(uint8 img, scale, 'bicubic'): height first, then width; uint8 in between."""
    img = img.astype(np.float64)
    out_h = int(np.ceil(img.shape[0] * scale))
    out_w = int(np.ceil(img.shape[1] * scale))
    img = resize_dim(img, 0, out_h, scale)
    img = resize_dim(img, 1, out_w, scale)
    return img.astype(np.uint8)


def modcrop(img, s):
    return img[: img.shape[0] - img.shape[0] % s, : img.shape[1] - img.shape[1] % s]


# ---------------------------------------------------------------- metrics
def to_y(img, mode="uint8"):
    """BT.601 luma, double; mode "uint8" rounds half up as MATLAB rgb2ycbcr does for uint8
    images, "double" keeps it unrounded. A gray image is its own Y (MATLAB eval scripts)."""
    img = img.astype(np.float64)
    if img.shape[2] == 1:
        return img[..., 0]
    y = 16.0 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0
    return np.floor(y + 0.5) if mode == "uint8" else y


def shave(a, b):
    return a[b:-b, b:-b] if b > 0 else a


def psnr(a, b, peak=255.0):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def gaussian_window(size=11, sigma=1.5):
    """fspecial('gaussian', 11, 1.5): exp(-(x^2+y^2)/(2 sigma^2)), normalised to sum 1."""
    r = (size - 1) / 2.0
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    g = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    return g / g.sum()


def filter2_valid(win, img):
    """MATLAB filter2(win, img, 'valid') (correlation) with plain numpy sliding sums."""
    k = win.shape[0]
    h, w = img.shape[0] - k + 1, img.shape[1] - k + 1
    out = np.zeros((h, w))
    for dy in range(k):
        for dx in range(k):
            out += win[dy, dx] * img[dy:dy + h, dx:dx + w]
    return out


def ssim_wang(a, b, L=255.0):
    """Wang et al.'s ssim_index.m (2003), default arguments."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    C1 = (0.01 * L) ** 2
    C2 = (0.03 * L) ** 2
    win = gaussian_window()
    mu1 = filter2_valid(win, a)
    mu2 = filter2_valid(win, b)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = filter2_valid(win, a * a) - mu1_sq
    s2 = filter2_valid(win, b * b) - mu2_sq
    s12 = filter2_valid(win, a * b) - mu1_mu2
    m = ((2 * mu1_mu2 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2))
    return float(m.mean())


def ssim_skimage(a, b):
    from skimage.metrics import structural_similarity
    return float(structural_similarity(a.astype(np.float64), b.astype(np.float64), gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False, data_range=255.0))


def psnr_skimage(a, b):
    from skimage.metrics import peak_signal_noise_ratio
    return float(peak_signal_noise_ratio(a.astype(np.float64), b.astype(np.float64), data_range=255.0))


# ---------------------------------------------------------------- files
def load(path):
    """uint8 (H, W, C); gray stays 1 channel."""
    im = Image.open(path)
    if im.mode == "L":
        return np.asarray(im, dtype=np.uint8)[..., None]
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def save(path, arr):
    arr = arr[..., 0] if arr.shape[2] == 1 else arr
    Image.fromarray(arr).save(path)


SET5 = ["baby", "bird", "butterfly", "head", "woman"]
SET14 = ["baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers", "foreman", "lenna",
         "man", "monarch", "pepper", "ppt3", "zebra"]


def hr_lr_pairs(shared):
    """(set, HR path, reference LR path) for Set5, Set14 and BSD100."""
    ref = os.path.join(shared, "data", "reference_LRx4", "selfexsr_matlab")
    for i, n in enumerate(SET5):
        yield "Set5", os.path.join(shared, "data", "Set5", n + ".png"), os.path.join(ref, "Set5", "img_%03d_SRF_4_LR.png" % (i + 1))
    for i, n in enumerate(SET14):
        yield "Set14", os.path.join(shared, "data", "Set14", n + ".png"), os.path.join(ref, "Set14", "img_%03d_SRF_4_LR.png" % (i + 1))
    for i in range(100):
        yield "BSD100", os.path.join(shared, "data", "BSD100", "img_%03d_SRF_4_HR.png" % (i + 1)), os.path.join(ref, "BSD100", "img_%03d_SRF_4_LR.png" % (i + 1))


def verify(shared):
    ok = total = 0
    for name, hr_path, lr_path in hr_lr_pairs(shared):
        hr = modcrop(load(hr_path), 4)
        lr = imresize(hr, 0.25)
        ref = load(lr_path)
        total += 1
        same = lr.shape == ref.shape and np.array_equal(lr, ref)
        ok += same
        if not same:
            diff = np.abs(lr.astype(int) - ref.astype(int)) if lr.shape == ref.shape else None
            print("MISMATCH", name, hr_path, lr.shape, ref.shape, None if diff is None else (diff.max(), (diff > 0).sum()))
    print("bit-exact: %d / %d" % (ok, total))
    return ok == total


def baseline(shared):
    for mode in ("uint8", "double"):
        for set_name, names in (("Set5", SET5), ("Set14", SET14)):
            ps, ss = [], []
            for n in names:
                hr = modcrop(load(os.path.join(shared, "data", set_name, n + ".png")), 4)
                sr = imresize(imresize(hr, 0.25), 4.0)
                yh, ys = shave(to_y(hr, mode), 4), shave(to_y(sr, mode), 4)
                ps.append(psnr(yh, ys))
                ss.append(ssim_wang(yh, ys))
                print("Y %-6s %-6s %-10s psnr %.4f ssim %.6f" % (mode, set_name, n, ps[-1], ss[-1]))
            print("Y %-6s %-6s mean       psnr %.4f ssim %.6f" % (mode, set_name, np.mean(ps), np.mean(ss)))


# ---------------------------------------------------------------- fixtures
def write_fixtures(shared):
    os.makedirs(FIXTURES, exist_ok=True)
    butterfly = load(os.path.join(shared, "data", "Set5", "butterfly.png"))  # 256x256 RGB
    bridge = load(os.path.join(shared, "data", "Set14", "bridge.png"))       # 512x512 gray

    # 1) Bicubic: a 24x20 (W x H) RGB crop and a 36x30 gray crop; x2, x3, x4 down and x4 up.
    rgb = np.ascontiguousarray(butterfly[100:120, 90:114])  # (20, 24, 3)
    gray = np.ascontiguousarray(bridge[200:230, 300:336])   # (30, 36, 1)
    save(os.path.join(FIXTURES, "crop_rgb_24x20.png"), rgb)
    save(os.path.join(FIXTURES, "crop_gray_36x30.png"), gray)
    for tag, img in (("rgb", rgb), ("gray", gray)):
        for k in (2, 3, 4):
            lr = imresize(modcrop(img, k), 1.0 / k)
            save(os.path.join(FIXTURES, "crop_%s_down_x%d.png" % (tag, k)), lr)
        up = imresize(imresize(img, 0.25), 4.0)
        save(os.path.join(FIXTURES, "crop_%s_down4_up4.png" % tag), up)

    # 2) Decoding: the same crops as BMP, JPEG, RGBA and gray+alpha PNG, and a 16-bit gray PNG
    #    (all written by PIL, an encoder independent of ours); the 16-bit values also as text.
    Image.fromarray(rgb).save(os.path.join(FIXTURES, "io_rgb.bmp"))
    Image.fromarray(rgb).save(os.path.join(FIXTURES, "io_rgb_q95.jpg"), quality=95)
    h, w = rgb.shape[:2]
    alpha = ((np.arange(h)[:, None] * 11 + np.arange(w)[None, :] * 7) % 256).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(os.path.join(FIXTURES, "io_rgba.png"))
    ga = np.dstack([gray[..., 0], ((np.arange(30)[:, None] * 5 + np.arange(36)[None, :] * 3) % 256).astype(np.uint8)])
    Image.fromarray(ga, "LA").save(os.path.join(FIXTURES, "io_gray_alpha.png"))
    v16 = (gray[..., 0].astype(np.uint32) * 256 + (np.arange(30)[:, None] * 13 + np.arange(36)[None, :] * 7) % 256)
    v16 = v16.astype(np.uint16)
    Image.fromarray(v16, "I;16").save(os.path.join(FIXTURES, "io_gray16.png"))
    with open(os.path.join(FIXTURES, "io_gray16.txt"), "w") as f:
        f.write("# io_gray16.png: width height, then the 16-bit values row by row\n36 30\n")
        for row in v16:
            f.write(" ".join(str(int(v)) for v in row) + "\n")

    # 4) EXIF orientation: a 24x16 JPEG with four differently coloured quadrants (so each of the
    #    8 orientations gives a different picture), saved with each Orientation tag 1..8, 4:4:4
    #    at quality 100; beside each, PIL's displayed version (ImageOps.exif_transpose of PIL's
    #    own decode) as PNG: the reference our reader, which decodes with stb, is held to.
    quad = np.zeros((16, 24, 3), np.uint8)
    quad[:8, :12] = (220, 40, 40)
    quad[:8, 12:] = (40, 200, 40)
    quad[8:, :12] = (40, 40, 220)
    quad[8:, 12:] = (230, 230, 230)
    quad[2:4, 2:6] = (20, 20, 20)  # a mark near the top-left corner
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        jpg = os.path.join(FIXTURES, "io_exif_o%d.jpg" % o)
        Image.fromarray(quad).save(jpg, quality=100, subsampling=0, exif=exif.tobytes())
        with Image.open(jpg) as im:
            assert im.getexif().get(0x0112) == o
            ImageOps.exif_transpose(im).save(os.path.join(FIXTURES, "io_exif_o%d_display.png" % o))

    write_jpeg_fixtures(butterfly, bridge)

    # 3) Metrics: HR = a 64x48 crop; pairs (HR, bicubic SR) and (HR, HR + seeded noise).
    hr = np.ascontiguousarray(butterfly[40:88, 120:184])  # (48, 64, 3)
    sr = imresize(imresize(hr, 0.25), 4.0)
    rng = np.random.default_rng(1234)
    noisy = np.clip(hr.astype(np.int64) + rng.integers(-20, 21, size=hr.shape), 0, 255).astype(np.uint8)
    save(os.path.join(FIXTURES, "metrics_hr.png"), hr)
    save(os.path.join(FIXTURES, "metrics_bicubic.png"), sr)
    save(os.path.join(FIXTURES, "metrics_noisy.png"), noisy)
    lines = ["# metrics reference, written by tools/scripts/make_data_fixtures.py: pair luma_mode border psnr_y ssim_y"
             " psnr_rgb; skimage %s peak_signal_noise_ratio / structural_similarity(gaussian_weights=True,"
             " sigma=1.5, use_sample_covariance=False, data_range=255), checked against a numpy ssim_index.m"
             % __import__("skimage").__version__]
    for name, other in (("bicubic", sr), ("noisy", noisy)):
        for mode in ("uint8", "double"):
            for border in (0, 4):
                yh, yo = shave(to_y(hr, mode), border), shave(to_y(other, mode), border)
                p_sk, s_sk = psnr_skimage(yh, yo), ssim_skimage(yh, yo)
                p_np, s_np = psnr(yh, yo), ssim_wang(yh, yo)
                assert abs(p_sk - p_np) < 1e-9 and abs(s_sk - s_np) < 1e-12, (name, p_sk, p_np, s_sk, s_np)
                prgb = psnr_skimage(shave(hr, border), shave(other, border))
                lines.append("%s %s %d %.12f %.15f %.12f" % (name, mode, border, p_sk, s_sk, prgb))
    with open(os.path.join(FIXTURES, "metrics_reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", FIXTURES)


def adam7_png(arr, depth, colour):
    """An interlaced (Adam7) PNG of arr (H, W[, C]) built by hand (PIL cannot write one): each
    pass's rows with filter byte 0, deflated by zlib, in chunks with their CRC."""
    import struct
    import zlib
    h, w = arr.shape[:2]
    raw = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            if depth < 8:
                raw += b"\0" + np.packbits(row.reshape(-1).astype(np.uint8), bitorder="big").tobytes()
            else:
                raw += b"\0" + row.reshape(-1).astype(">u2" if depth == 16 else np.uint8).tobytes()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def write_jpeg_fixtures(butterfly, bridge):
    """5) JPEG kinds our libjpeg-turbo reader must take: gray, 4:2:0, progressive, restart markers,
    CMYK (Adobe, inverted), each beside PIL's decode of it as PNG (CMYK converted to RGB by PIL);
    and two interlaced PNGs."""
    rgb = Image.fromarray(np.ascontiguousarray(butterfly[64:112, 64:128]))  # 64x48 RGB
    gray = Image.fromarray(np.ascontiguousarray(bridge[200:240, 300:356, 0]))  # 56x40 gray
    kinds = {
        "gray": (gray, dict(quality=90)),
        "420": (rgb, dict(quality=85, subsampling=2)),
        "progressive": (rgb, dict(quality=85, progressive=True)),
        "restart": (rgb, dict(quality=85, restart_marker_blocks=3)),
        "cmyk": (rgb.convert("CMYK"), dict(quality=90)),
    }
    for kind, (im, opts) in kinds.items():
        jpg = os.path.join(FIXTURES, "jpeg_%s.jpg" % kind)
        im.save(jpg, **opts)
        with Image.open(jpg) as back:
            ref = back.convert("L" if back.mode == "L" else "RGB")
            ref.save(os.path.join(FIXTURES, "jpeg_%s_pil.png" % kind))
    # Interlaced PNGs (the PNG bounds check in data/png_check.cpp counts Adam7 pass sizes), with
    # PIL's decode of each as a plain PNG: 13x9 RGB at 8 bits and 13x9 bilevel gray at 1 bit.
    rgb13 = np.ascontiguousarray(butterfly[100:109, 90:103])
    bits = (np.asarray(bridge[200:209, 300:313, 0]) > 128).astype(np.uint8)
    for name, arr, depth, colour in (("rgb8", rgb13, 8, 2), ("gray1", bits, 1, 0)):
        path = os.path.join(FIXTURES, "io_adam7_%s.png" % name)
        with open(path, "wb") as f:
            f.write(adam7_png(arr, depth, colour))
        with Image.open(path) as back:
            assert back.info.get("interlace") == 1
            ref = np.asarray(back.convert("L" if colour == 0 else "RGB"))
            assert np.array_equal(ref, arr * 255 if depth == 1 else arr)
            Image.fromarray(ref).save(os.path.join(FIXTURES, "io_adam7_%s_pil.png" % name))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"))
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--jpeg-only", action="store_true", help="write only section 5: jpeg_* and io_adam7_*")
    a = ap.parse_args()
    if a.jpeg_only:
        write_jpeg_fixtures(load(os.path.join(a.shared, "data", "Set5", "butterfly.png")),
                            load(os.path.join(a.shared, "data", "Set14", "bridge.png")))
        return
    if a.verify:
        sys.exit(0 if verify(a.shared) else 1)
    if a.baseline:
        baseline(a.shared)
        return
    write_fixtures(a.shared)


if __name__ == "__main__":
    main()
