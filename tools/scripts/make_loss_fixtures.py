#!/usr/bin/python3
"""Write tests/fixtures/models/texture_losses_io.safetensors: PyTorch's values and input gradients of
the texture losses of models/losses.h, for tests/test_texture_losses.cpp.

  gradient_l1       F.l1_loss(sobel(sr), sobel(hr)), and its gradient with respect to sr; sobel: the
                    per-channel Sobel / 8 derivatives ('valid'), channel 2c = d/dx of c, 2c+1 = d/dy
  feature_match     pix2pixHD feature matching through the committed tiny discriminator
                    (tests/fixtures/models/discriminator_c32w2.safetensors, converted back with
                    convert_srgan.py): the mean over the outputs of D's eight LeakyReLUs in f of
                    F.l1_loss(D_l(sr), D_l(hr)), D in train mode (batch statistics), D(hr) without a
                    graph; and its gradient with respect to sr

Everything is in our layout (NHWC) and computed in float64; hr and sr are float32 draws, stored as
float32 (exact); the discriminator's float32 weights are widened to float64 on both sides. Run: /usr/bin/python3 tools/scripts/make_loss_fixtures.py [--out DIR]
"""
import argparse
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_srgan  # noqa: E402
import safetensors_io  # noqa: E402
from make_model_fixtures import Discriminator, nhwc  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
MODELS = os.path.join(REPO, "tests", "fixtures", "models")
TAPS = [1] + [4 + 3 * i for i in range(7)]  # the LeakyReLUs of D.f: f.1, f.4, ..., f.22


def sobel(x):
    """x (N, C, H, W) -> (N, 2C, H-2, W-2): channel 2c = d/dx of channel c, 2c+1 = d/dy (Sobel / 8)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype) / 8.0
    c = x.shape[1]
    w = torch.stack([kx, kx.t()]).unsqueeze(1).repeat(c, 1, 1, 1)  # (2C, 1, 3, 3), groups of 2 per channel
    return F.conv2d(x, w, groups=c)


def d_features(d, x):
    feats = []
    for i, layer in enumerate(d.f):
        x = layer(x)
        if i in TAPS:
            feats.append(x)
    return feats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=MODELS, help="output folder (default %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1801)

    tensors, meta = safetensors_io.load(os.path.join(MODELS, "discriminator_c32w2.safetensors"))
    assert meta["crop"] == "32" and meta["width"] == "2" and meta["dense"] == "16"
    d = Discriminator(32, 2, 16)
    missing, unexpected = d.load_state_dict(convert_srgan.discriminator_to_torch(tensors), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    d = d.double().train()

    # float32 draws widened to float64: stored as float32 (exact), half the size
    hr = torch.rand(2, 3, 32, 32).double()
    sr = torch.rand(2, 3, 32, 32).double().requires_grad_(True)

    s = sobel(sr)
    grad_l1 = F.l1_loss(s, sobel(hr))
    (d_grad_l1,) = torch.autograd.grad(grad_l1, sr)

    with torch.no_grad():
        hr_feats = d_features(d, hr)
    sr_feats = d_features(d, sr)
    assert len(sr_feats) == 8
    fm = sum(F.l1_loss(a, b) for a, b in zip(sr_feats, hr_feats)) / len(sr_feats)
    (d_fm,) = torch.autograd.grad(fm, sr)

    out = OrderedDict(hr=nhwc(hr).float(), sr=nhwc(sr.detach()).float(),
                      gradient_l1=grad_l1.detach().reshape(()), d_gradient_l1_d_sr=nhwc(d_grad_l1),
                      feature_match=fm.detach().reshape(()), d_feature_match_d_sr=nhwc(d_fm))
    path = os.path.join(args.out, "texture_losses_io.safetensors")
    safetensors_io.save(path, out, {"note": "float64 NHWC; D = discriminator_c32w2 in train mode; torch " +
                                    torch.__version__})
    print(f"{path}: {os.path.getsize(path)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
