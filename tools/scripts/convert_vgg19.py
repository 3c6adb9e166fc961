#!/usr/bin/python3
"""Convert torchvision's VGG19 weights to our VGG19Features safetensors (models/vgg19.h) and back.

torchvision names are kept ("features.0.weight" ... "features.34.bias"); conv weights are
permuted (K, C, R, S) -> (K, R, S, C); the classifier.* entries are dropped. With --layer conv2_2
only the convolutions up to conv2_2 (features.0, 2, 5, 7) are kept, matching a VGG19Features built
with VGG19Config::phi22(). Metadata: arch=vgg19_features, layer, after_relu, width_divisor.

Usage:
  convert_vgg19.py to-ours IN.pth OUT.safetensors [--layer conv5_4|conv2_2] [--after-relu 0|1]
  convert_vgg19.py to-ours --random [--seed S] OUT.safetensors     (torchvision's own random init)
  convert_vgg19.py to-torch IN.safetensors OUT.pth                 (features.* only)
IN.pth is torchvision's state dict (e.g. vgg19-dcbb9e9d.pth); no weights are downloaded.
"""
import argparse
import os
import re
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

LAST_INDEX = {"conv2_2": 7, "conv5_4": 34}  # torchvision feature index of the chosen conv


def vgg19_to_ours(sd, layer="conv5_4", after_relu=None):
    """torchvision VGG19 state dict (full or features only) -> (tensors, metadata)."""
    if after_relu is None:
        after_relu = layer == "conv2_2"  # models/vgg19.h: phi22 after ReLU, phi54 before
    out = OrderedDict()
    for k, v in sd.items():
        m = re.match(r"features\.(\d+)\.(weight|bias)$", k)
        if not m or int(m.group(1)) > LAST_INDEX[layer]:
            continue  # classifier.*, or layers past the chosen one
        v = v.detach().cpu().float()
        out[k] = v.permute(0, 2, 3, 1).contiguous() if v.dim() == 4 else v.contiguous()
    width = out["features.0.weight"].shape[0]
    meta = {"arch": "vgg19_features", "layer": layer, "after_relu": "1" if after_relu else "0",
            "width_divisor": str(64 // width), "normalize_input": "1",
            "layout": "NHWC activations, KRSC conv weights"}
    return out, meta


def vgg19_to_torch(tensors):
    """Our tensors -> a torchvision-style state dict holding the features.* entries."""
    return OrderedDict((k, v.permute(0, 3, 1, 2).contiguous() if v.dim() == 4 else v.clone()) for k, v in tensors.items())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-ours")
    a.add_argument("paths", nargs="+", help="IN.pth OUT.safetensors, or OUT.safetensors with --random")
    a.add_argument("--random", action="store_true", help="use torchvision's random initialisation")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--layer", choices=sorted(LAST_INDEX), default="conv5_4")
    a.add_argument("--after-relu", type=int, choices=[0, 1], default=None)
    b = sub.add_parser("to-torch")
    b.add_argument("input")
    b.add_argument("output")
    args = ap.parse_args(argv)
    if args.cmd == "to-ours":
        if args.random:
            import torchvision
            if len(args.paths) != 1:
                ap.error("with --random give only OUT.safetensors")
            torch.manual_seed(args.seed)
            sd, out_path = torchvision.models.vgg19(weights=None).features.state_dict(), args.paths[0]
            sd = OrderedDict(("features." + k, v) for k, v in sd.items())
        else:
            if len(args.paths) != 2:
                ap.error("give IN.pth OUT.safetensors")
            sd, out_path = torch.load(args.paths[0], map_location="cpu"), args.paths[1]
        after = None if args.after_relu is None else bool(args.after_relu)
        tensors, meta = vgg19_to_ours(sd, args.layer, after)
        safetensors_io.save(out_path, tensors, meta)
        print(f"wrote {out_path}: {len(tensors)} tensors, {meta}", file=sys.stderr)
    else:
        tensors, _ = safetensors_io.load(args.input)
        torch.save(vgg19_to_torch(tensors), args.output)
        print(f"wrote {args.output}: {len(tensors)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
