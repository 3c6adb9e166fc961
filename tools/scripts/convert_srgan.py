#!/usr/bin/python3
"""Convert SRGAN generator/discriminator weights between PyTorch and our safetensors files.

PyTorch side: state dicts of ../shared/bench/srgan_torch.py's Generator (head.0.weight,
body.3.c1.weight, ...) and Discriminator (f.0.weight ... h.1.weight, h.3.weight), NCHW/KCRS.
Our side (models/srresnet.h, models/discriminator.h): the same names, NHWC/KRSC:
  * every 4-D conv weight is permuted (K, C, R, S) -> (K, R, S, C);
  * the discriminator's first Linear (h.1.weight, shape (dense, C*H*W)) sees our NHWC Flatten,
    so its input columns are permuted from PyTorch's (c, y, x) order to our (y, x, c) order;
  * BatchNorm's num_batches_tracked is dropped (we do not use it; it is put back as 0 by to-torch);
  * architecture metadata (arch, blocks/width or crop/width/dense) is written to __metadata__.

Usage:
  convert_srgan.py to-ours --model generator|discriminator IN.pth OUT.safetensors [--key K]
  convert_srgan.py to-torch IN.safetensors OUT.pth
IN.pth holds a state dict, or a dict holding one under --key (e.g. "generator").
"""
import argparse
import math
import os
import re
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


def conv_to_ours(w):  # (K, C, R, S) -> (K, R, S, C)
    return w.permute(0, 2, 3, 1).contiguous()


def conv_to_torch(w):  # (K, R, S, C) -> (K, C, R, S)
    return w.permute(0, 3, 1, 2).contiguous()


def _generic_to_ours(sd):
    out = OrderedDict()
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        v = v.detach().cpu()
        if v.is_floating_point() and v.dtype != torch.float64:
            v = v.float()
        out[k] = conv_to_ours(v) if v.dim() == 4 else v.contiguous()
    return out


def _generic_to_torch(tensors):
    out = OrderedDict()
    for k, v in tensors.items():
        out[k] = conv_to_torch(v) if v.dim() == 4 else v.clone()
        if k.endswith(".running_var"):  # BatchNorm: PyTorch's state dict also has a step counter
            out[k[: -len("running_var")] + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


# ---- generator ----

def generator_config(sd):
    width = sd["head.0.weight"].shape[0]
    blocks = len({m.group(1) for k in sd for m in [re.match(r"body\.(\d+)\.c1\.weight$", k)] if m})
    return {"arch": "srresnet", "blocks": str(blocks), "width": str(width), "scale": "4",
            "layout": "NHWC activations, KRSC conv weights"}


def generator_to_ours(sd):
    """PyTorch Generator state dict -> (tensors, metadata) in our layout."""
    return _generic_to_ours(sd), generator_config(sd)


def generator_to_torch(tensors):
    return _generic_to_torch(tensors)


# ---- discriminator ----

def _last_conv_channels(sd):
    convs = sorted((int(m.group(1)), k) for k in sd for m in [re.match(r"f\.(\d+)\.weight$", k)] if m and sd[k].dim() == 4)
    return sd[convs[-1][1]].shape[0]


def _dense_geometry(sd):
    c = _last_conv_channels(sd)
    dense, flat = sd["h.1.weight"].shape
    hw = flat // c
    side = int(round(math.sqrt(hw)))
    if side * side * c != flat:
        raise ValueError(f"h.1.weight has {flat} inputs, not C*S*S for C={c}")
    return c, side, dense


def discriminator_config(sd):
    c, side, dense = _dense_geometry(sd)
    width = sd["f.0.weight"].shape[0]
    return {"arch": "srgan_discriminator", "crop": str(16 * side), "width": str(width), "dense": str(dense),
            "slope": "0.2", "layout": "NHWC activations, KRSC conv weights, h.1.weight columns in HWC order"}


def linear_columns_chw_to_hwc(w, c, h, wd):  # (O, C*H*W) -> (O, H*W*C)
    return w.reshape(w.shape[0], c, h, wd).permute(0, 2, 3, 1).reshape(w.shape[0], -1).contiguous()


def linear_columns_hwc_to_chw(w, c, h, wd):  # (O, H*W*C) -> (O, C*H*W)
    return w.reshape(w.shape[0], h, wd, c).permute(0, 3, 1, 2).reshape(w.shape[0], -1).contiguous()


def discriminator_to_ours(sd):
    """PyTorch Discriminator state dict -> (tensors, metadata) in our layout."""
    c, side, _ = _dense_geometry(sd)
    out = _generic_to_ours(sd)
    out["h.1.weight"] = linear_columns_chw_to_hwc(out["h.1.weight"], c, side, side)
    return out, discriminator_config(sd)


def discriminator_to_torch(tensors):
    c, side, _ = _dense_geometry(tensors)  # 4-D shapes (K, R, S, C): dim 0 is still K
    out = _generic_to_torch(tensors)
    out["h.1.weight"] = linear_columns_hwc_to_chw(out["h.1.weight"], c, side, side)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-ours", help="PyTorch state dict (.pth) -> our safetensors")
    a.add_argument("--model", choices=["generator", "discriminator"], required=True)
    a.add_argument("--key", default=None, help="take the state dict from this key of the loaded dict")
    a.add_argument("input")
    a.add_argument("output")
    b = sub.add_parser("to-torch", help="our safetensors -> PyTorch state dict (.pth)")
    b.add_argument("input")
    b.add_argument("output")
    args = ap.parse_args(argv)
    if args.cmd == "to-ours":
        sd = torch.load(args.input, map_location="cpu")
        if args.key:
            sd = sd[args.key]
        tensors, meta = (generator_to_ours if args.model == "generator" else discriminator_to_ours)(sd)
        safetensors_io.save(args.output, tensors, meta)
        print(f"wrote {args.output}: {len(tensors)} tensors, {meta}", file=sys.stderr)
    else:
        tensors, meta = safetensors_io.load(args.input)
        arch = meta.get("arch") or ("srgan_discriminator" if "h.1.weight" in tensors else "srresnet")
        sd = discriminator_to_torch(tensors) if arch == "srgan_discriminator" else generator_to_torch(tensors)
        torch.save(sd, args.output)
        print(f"wrote {args.output}: {len(sd)} tensors ({arch})", file=sys.stderr)


if __name__ == "__main__":
    main()
