#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/<harness>/seed_*): small
valid inputs of every kind each harness reads, from which the fuzzers mutate. Files that are not
seed_* (the crafted inputs that once crashed, minimised finds of long runs) are left alone.

  image_read     PNG (RGB, 16-bit gray, RGBA, gray+alpha, palette, 1-bit), BMP (24-bit, 8-bit
                 palette, 1-bit, 32-bit), JPEG (baseline 4:2:0 and 4:2:2, 4:4:4 with EXIF
                 Orientation 6, progressive, gray, restart markers, CMYK), all written by PIL
  exif           the first bytes of JPEGs up to their scan: EXIF little- and big-endian, after
                 an APP0 block, and none
  safetensors    F32 and F64 tensors with metadata, an empty tensor, a tiny SRResNet-shaped file
                 (blocks 1, width 2) that the model-file check accepts
  png_roundtrip  5 parameter bytes (see tests/fuzz/fuzz_png_roundtrip.cpp) and samples

usage: python3 tools/scripts/make_fuzz_seeds.py   (needs numpy and PIL)
"""
import io
import json
import os
import struct

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(REPO, "tests", "fuzz", "corpus")


def write(harness, name, data):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed_" + name), "wb") as f:
        f.write(data)


def saved(im, fmt, **opts):
    buf = io.BytesIO()
    im.save(buf, fmt, **opts)
    return buf.getvalue()


def image_seeds(rng):
    rgb = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    big = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    write("image_read", "rgb.png", saved(rgb, "PNG"))
    write("image_read", "gray16.png", saved(Image.fromarray(rng.integers(0, 65536, (4, 5), dtype=np.uint16)), "PNG"))
    write("image_read", "rgba.png", saved(rgb.convert("RGBA"), "PNG"))
    write("image_read", "gray_alpha.png", saved(rgb.convert("LA"), "PNG"))
    write("image_read", "palette.png", saved(rgb.convert("P"), "PNG"))
    write("image_read", "bilevel.png", saved(rgb.convert("1"), "PNG"))
    write("image_read", "rgb.bmp", saved(rgb, "BMP"))
    write("image_read", "palette.bmp", saved(rgb.convert("P"), "BMP"))
    write("image_read", "bilevel.bmp", saved(rgb.convert("1"), "BMP"))
    write("image_read", "rgba.bmp", saved(rgb.convert("RGBA"), "BMP"))
    exif = Image.Exif()
    exif[0x0112] = 6
    write("image_read", "baseline420.jpg", saved(big, "JPEG", quality=75))
    write("image_read", "baseline422.jpg", saved(big, "JPEG", quality=75, subsampling=1))
    write("image_read", "exif6_444.jpg", saved(big, "JPEG", quality=90, subsampling=0, exif=exif.tobytes()))
    write("image_read", "progressive.jpg", saved(big, "JPEG", quality=75, progressive=True))
    write("image_read", "gray.jpg", saved(big.convert("L"), "JPEG", quality=75))
    write("image_read", "restart.jpg", saved(big, "JPEG", quality=75, restart_marker_blocks=1))
    write("image_read", "cmyk.jpg", saved(big.convert("CMYK"), "JPEG", quality=75))


def exif_seeds(rng):
    def head(jpeg):  # everything before the start of scan (FF DA) and the 4 bytes after it
        return jpeg[: jpeg.index(b"\xff\xda") + 4]
    im = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "fuzz"
    write("exif", "little_endian", head(saved(im, "JPEG", exif=exif.tobytes())))
    write("exif", "no_exif", head(saved(im, "JPEG")))
    # Big-endian TIFF by hand (PIL writes little-endian): IFD0 with Make, then Orientation 3.
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 2)
    tiff += struct.pack(">HHII", 0x010F, 2, 4, 0) + struct.pack(">HHIHH", 0x0112, 3, 1, 3, 0) + b"\x00" * 4
    app1 = b"Exif\x00\x00" + tiff
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    write("exif", "big_endian_after_app0",
          b"\xff\xd8" + app0 + b"\xff\xe1" + struct.pack(">H", 2 + len(app1)) + app1 + b"\xff\xda\x00\x02")


def safetensors_file(tensors, metadata):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, a in tensors.items():
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": {np.float32: "F32", np.float64: "F64"}[a.dtype.type], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def safetensors_seeds(rng):
    write("safetensors", "f32_f64.safetensors", safetensors_file(
        {"w": rng.standard_normal((2, 3)).astype(np.float32), "d": rng.standard_normal(2)}, {"note": "seed"}))
    write("safetensors", "empty.safetensors", safetensors_file({"e": np.zeros((0, 3), np.float32)}, None))
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32) * 0.1  # noqa: E731
    srresnet = {"head.0.weight": f(2, 9, 9, 3), "head.0.bias": f(2), "head.1.weight": f(1),
                "body.0.c1.weight": f(2, 3, 3, 2), "body.0.c1.bias": f(2)}
    write("safetensors", "srresnet_b1w2.safetensors",
          safetensors_file(srresnet, {"arch": "srresnet", "blocks": "1", "width": "2"}))


def png_roundtrip_seeds(rng):
    for i, params in enumerate([(7, 3, 2, 0, 2), (40, 9, 3, 1, 0), (0, 0, 0, 10, 8), (63, 15, 1, 7, 4)]):
        write("png_roundtrip", "case%d" % i, bytes(params) + rng.integers(0, 256, 48, dtype=np.uint8).tobytes())


def main():
    rng = np.random.default_rng(19)
    image_seeds(rng)
    exif_seeds(rng)
    safetensors_seeds(rng)
    png_roundtrip_seeds(rng)
    print("wrote seeds under", CORPUS)


if __name__ == "__main__":
    main()
