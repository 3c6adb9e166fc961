#!/usr/bin/python3
"""Write tests/fixtures/models/*.safetensors: tiny random-weight SRGAN networks built in PyTorch,
converted with tools/scripts/convert_srgan.py / convert_vgg19.py, plus inputs and PyTorch's outputs, for
tests/test_models.cpp to compare against our forward passes.

  srresnet_b2w8[_io]          Generator with 2 residual blocks, width 8 (random BN stats, PReLU)
  discriminator_c32w2[_io]    Discriminator for 32x32 crops, width 2, dense 16 (the final map is
                              2x2, so the CHW -> HWC column permutation of h.1.weight is exercised)
  vgg19_d32[_io]              torchvision's own vgg19 layers (torchvision.models.vgg.make_layers)
                              with every width divided by 32, on a 32x32 input: phi54, phi22,
                              the rescaled VGG loss and an input gradient

The small models are parameterised copies of ../shared/bench/srgan_torch.py's classes; at full size
their state-dict names and shapes are checked against it (and the VGG's against torchvision's
vgg19()) so the tiny fixtures test the same naming as the real networks.
Run: /usr/bin/python3 tools/scripts/make_model_fixtures.py [--out tests/fixtures/models]
"""
import argparse
import copy
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_srgan  # noqa: E402
import convert_vgg19  # noqa: E402
import safetensors_io  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


# ---- parameterised copies of srgan_torch.py's networks (same names) ----
class ResBlock(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.c1 = nn.Conv2d(c, c, 3, 1, 1); s.b1 = nn.BatchNorm2d(c); s.p = nn.PReLU()
        s.c2 = nn.Conv2d(c, c, 3, 1, 1); s.b2 = nn.BatchNorm2d(c)

    def forward(s, x):
        return x + s.b2(s.c2(s.p(s.b1(s.c1(x)))))


class Generator(nn.Module):
    def __init__(s, nb=16, w=64):
        super().__init__()
        s.head = nn.Sequential(nn.Conv2d(3, w, 9, 1, 4), nn.PReLU())
        s.body = nn.Sequential(*[ResBlock(w) for _ in range(nb)])
        s.mid = nn.Sequential(nn.Conv2d(w, w, 3, 1, 1), nn.BatchNorm2d(w))
        s.up = nn.Sequential(nn.Conv2d(w, 4 * w, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(),
                             nn.Conv2d(w, 4 * w, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU())
        s.tail = nn.Conv2d(w, 3, 9, 1, 4)

    def forward(s, x):
        h = s.head(x)
        return s.tail(s.up(h + s.mid(s.body(h))))


class Discriminator(nn.Module):
    def __init__(s, hr=96, w=64, dense=1024):
        super().__init__()
        L = [nn.Conv2d(3, w, 3, 1, 1), nn.LeakyReLU(0.2)]
        cin = w
        for m, st in [(1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]:
            L += [nn.Conv2d(cin, m * w, 3, st, 1), nn.BatchNorm2d(m * w), nn.LeakyReLU(0.2)]
            cin = m * w
        s.f = nn.Sequential(*L)
        s.h = nn.Sequential(nn.Flatten(), nn.Linear(8 * w * (hr // 16) ** 2, dense), nn.LeakyReLU(0.2),
                            nn.Linear(dense, 1))

    def forward(s, x):
        return s.h(s.f(x))


def vgg19_features(divisor):
    """torchvision's own layer builder with every width divided by `divisor`."""
    cfg = [v if v == "M" else v // divisor for v in torchvision.models.vgg.cfgs["E"]]
    return torchvision.models.vgg.make_layers(cfg, batch_norm=False)


def shapes(sd):
    return [(k, tuple(v.shape)) for k, v in sd.items()]


def check_names_against_references():
    bench = os.path.join(HERE, "..", "..", "..", "shared", "bench")
    if os.path.exists(os.path.join(bench, "srgan_torch.py")):
        sys.path.insert(0, bench)
        import srgan_torch
        assert shapes(Generator(16, 64).state_dict()) == shapes(srgan_torch.Generator(16).state_dict())
        assert shapes(Discriminator(96, 64, 1024).state_dict()) == shapes(srgan_torch.Discriminator(96).state_dict())
        ref54 = srgan_torch.vgg19_54().state_dict()
        ours54 = nn.Sequential(*list(vgg19_features(1))[:35]).state_dict()
        assert shapes(ref54) == shapes(ours54)
        print("names and shapes match srgan_torch.py", file=sys.stderr)
    else:
        print("note: ../shared/bench/srgan_torch.py not found, name check against it skipped", file=sys.stderr)
    tv = torchvision.models.vgg19(weights=None)
    full = tv.state_dict()
    mine = OrderedDict(("features." + k, v) for k, v in vgg19_features(1).state_dict().items())
    assert shapes(mine) == [(k, s) for k, s in shapes(full) if k.startswith("features.")]
    # the converter drops the classifier and round-trips torchvision's own state dict exactly
    ours, meta = convert_vgg19.vgg19_to_ours(full)
    assert len(ours) == 32 and meta["width_divisor"] == "1" and ours["features.0.weight"].shape == (64, 3, 3, 3)
    back = convert_vgg19.vgg19_to_torch(ours)
    tv.features.load_state_dict(OrderedDict((k[len("features."):], v) for k, v in back.items()))
    assert all(torch.equal(back[k], full[k]) for k in back)
    print("torchvision vgg19 names match and its state dict round-trips", file=sys.stderr)


def nhwc(x):
    return x.permute(0, 2, 3, 1).contiguous()


def randomise_bn_prelu(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5); m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 1.5)
        elif isinstance(m, nn.PReLU):
            m.weight.data.uniform_(0.05, 0.4)


@torch.no_grad()
def calibrate_bn(model, x):
    """Running statistics from one batch, so eval-mode activations keep depending on the input
    (with raw random weights they shrink layer by layer and the logits become constant)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats(); m.momentum = None
    model.train(); model(x)
    for m in bns:
        m.momentum = 0.1


def save(out, name, tensors, meta):
    path = os.path.join(out, name)
    safetensors_io.save(path, tensors, meta)
    print(f"{path}: {os.path.getsize(path)} bytes", file=sys.stderr)


@torch.no_grad()
def make_srresnet(out):
    g = Generator(2, 8)
    randomise_bn_prelu(g)
    x = torch.rand(2, 3, 6, 6)
    # convert before the train-mode forward, which moves the running statistics
    sd = copy.deepcopy(g.state_dict())
    tensors, meta = convert_srgan.generator_to_ours(sd)
    back = convert_srgan.generator_to_torch(tensors)  # round trip: the same state dict (minus BN step counters)
    assert all(torch.equal(back[k], v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    g.eval(); y_eval = g(x)
    g.train(); y_train = g(x)
    save(out, "srresnet_b2w8.safetensors", tensors, meta)
    save(out, "srresnet_b2w8_io.safetensors",
         OrderedDict(input=nhwc(x), output_eval=nhwc(y_eval), output_train=nhwc(y_train)),
         {"note": "input (N,h,w,3); outputs (N,4h,4w,3) NHWC; output_train uses batch statistics"})


@torch.no_grad()
def make_discriminator(out):
    d = Discriminator(32, 2, 16)
    randomise_bn_prelu(d)
    calibrate_bn(d, torch.rand(4, 3, 32, 32))
    hr, sr = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    sd = copy.deepcopy(d.state_dict())  # before train-mode forwards move the running statistics
    tensors, meta = convert_srgan.discriminator_to_ours(sd)
    back = convert_srgan.discriminator_to_torch(tensors)
    assert all(torch.equal(back[k], v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    d.eval(); logits_eval = d(hr)
    d.train(); lh = d(hr); ls = d(sr)  # two separate train-mode forwards, as our discriminator_loss
    d_loss = F.binary_cross_entropy_with_logits(lh, torch.ones_like(lh)) + \
        F.binary_cross_entropy_with_logits(ls, torch.zeros_like(ls))
    g_adv = F.binary_cross_entropy_with_logits(ls, torch.ones_like(ls))
    save(out, "discriminator_c32w2.safetensors", tensors, meta)
    save(out, "discriminator_c32w2_io.safetensors",
         OrderedDict(hr=nhwc(hr), sr=nhwc(sr), logits_eval=logits_eval, logits_train_hr=lh, logits_train_sr=ls,
                     d_loss=d_loss.reshape(()), g_adversarial=g_adv.reshape(())),
         {"note": "hr, sr (N,32,32,3) NHWC; logits (N,1); losses BCE-with-logits means"})


def make_vgg(out):
    feats = vgg19_features(32)  # widths 2, 4, 8, 16
    for m in feats.modules():
        if isinstance(m, nn.Conv2d):
            # torchvision's fan_out init shrinks the signal of such narrow layers until phi54 no longer
            # depends on the input; fan_in keeps its scale. Biases (0 in torchvision) made to matter.
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            m.bias.data.uniform_(-0.05, 0.05)
    for p in feats.parameters():
        p.requires_grad_(False)
    f54, f22 = feats[:35], feats[:9]
    norm = lambda x: (x - MEAN) / STD  # noqa: E731
    sr = torch.rand(1, 3, 32, 32, requires_grad=True)
    hr = torch.rand(1, 3, 32, 32)
    y54 = f54(norm(sr))
    r = torch.randn_like(y54)
    (grad,) = torch.autograd.grad((y54 * r).sum(), sr)
    with torch.no_grad():
        y22 = f22(norm(sr))
        s = 1.0 / 12.75
        vgg_loss = F.mse_loss(f54(norm(sr)) * s, f54(norm(hr)) * s)
        # convert_vgg19 sees the same state dict torchvision's VGG would have (features.*)
        sd = OrderedDict(("features." + k, v) for k, v in feats.state_dict().items())
        tensors, meta = convert_vgg19.vgg19_to_ours(sd)
    save(out, "vgg19_d32.safetensors", tensors, meta)
    save(out, "vgg19_d32_io.safetensors",
         OrderedDict(sr=nhwc(sr.detach()), hr=nhwc(hr), phi54=nhwc(y54.detach()), phi22=nhwc(y22), r=nhwc(r),
                     grad_sr=nhwc(grad), vgg_loss=vgg_loss.reshape(())),
         {"note": "inputs in [0,1] NHWC; phi54 = conv5_4 before ReLU, phi22 = conv2_2 after ReLU; "
                  "grad_sr = d sum(phi54 * r) / d sr; vgg_loss = mse(phi54(sr)/12.75, phi54(hr)/12.75)"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures", "models"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(1234)
    check_names_against_references()
    make_srresnet(args.out)
    make_discriminator(args.out)
    make_vgg(args.out)


if __name__ == "__main__":
    main()
