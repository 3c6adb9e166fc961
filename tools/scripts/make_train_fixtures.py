#!/usr/bin/python3
"""Write tests/fixtures/train/*.safetensors: one SRResNet MSE step and one SRGAN step (D then G,
VGG content loss) run in PyTorch on tiny seeded models, for tests/test_train_parity.cpp, which runs
the very functions the training loop runs (tools/train/train_step.cpp: pretrain_step, gan_step) on the
same weights and batch and compares losses, every parameter gradient, every parameter update and
the batch-norm running statistics.

Models (the classes of tools/scripts/make_model_fixtures.py, i.e. ../shared/bench/srgan_torch.py's names):
  G  SRResNet, 2 residual blocks, width 8 (random BN affine/running stats and PReLU slopes)
  D  discriminator for 16x16 crops, width 2, dense 8
  V  a VGG19-shaped random feature net, torchvision's layers with every width divided by 16,
     cut at conv2_2 after its ReLU (our VGG19Config::phi22(16)); frozen; ImageNet normalisation
Batch: N=2, LR (2,4,4,3) and HR (2,16,16,3), uniform in [0, 1].
Optimiser: Adam(lr 1e-3, betas (0.9, 0.999), eps 1e-8), a fresh one per model and per step kind.
Loss weights: models/losses.h defaults (VGG feature scale s = 1/12.75, adversarial 1e-3).

The reference runs in float64. Every stored input (weights, batch) is a float32 value, so both
sides start from exactly the same numbers. Results:
  losses, BN running statistics      float64
  gradients, parameter updates       float32 (rounded from the float64 result: relative 6e-8),
                                     to keep the fixtures small
"update" = parameter after Adam minus parameter before, so the test checks the parameters after
the step with the update's own relative precision.

The SRGAN step follows gan_step exactly:
  sr = G(lr)
  D step: zero D grads; d_real = BCE(D(hr), 1), d_fake = BCE(D(sr.detach()), 0) as two separate
          train-mode forwards; (d_real + d_fake).backward(); Adam on D
  G step: zero G grads only; D(sr) through the updated D (a third train-mode forward);
          content = mse(s*V(sr), s*V(hr)); g_total = content + 1e-3 * BCE(D(sr), 1); backward; Adam on G
so D's .grad at the end holds the D-step gradient plus what the G step's backward added to it
(gan_step does not zero it either), and D's running statistics moved three times.

Files (our names and layouts: NHWC, KRSC, discriminator h.1.weight columns in HWC order):
  g_init, d_init, vgg    initial weights (float32) with architecture metadata
  batch                  lr, hr (NHWC) and the optimiser / loss settings as metadata
  pretrain_ref           loss.*, grad.<param>, update.<param>, after.<buffer>
  gan_ref                loss.*, grad.G.*, update.G.*, after.G.*, grad.D.*, update.D.*, after.D.*
Run: /usr/bin/python3 tools/scripts/make_train_fixtures.py [--out tests/fixtures/train]   (deterministic)
"""
import argparse
import copy
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_srgan  # noqa: E402
import convert_vgg19  # noqa: E402
import safetensors_io  # noqa: E402
from make_model_fixtures import Discriminator, Generator, nhwc, randomise_bn_prelu, vgg19_features  # noqa: E402

LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
VGG_SCALE, ADV_WEIGHT = 1.0 / 12.75, 1e-3
G_BLOCKS, G_WIDTH = 2, 8
D_CROP, D_WIDTH, D_DENSE = 16, 2, 8
VGG_DIVISOR = 16
# ImageNet statistics as float64 (make_model_fixtures' MEAN/STD are float32 tensors: 0.485 -> 0.48500001...)
MEAN = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)


def save(out, name, tensors, meta=None):
    path = os.path.join(out, name)
    safetensors_io.save(path, tensors, meta)
    print(f"{path}: {os.path.getsize(path)} bytes", file=sys.stderr)
    return os.path.getsize(path)


def f32(d):
    return OrderedDict((k, v.detach().float().contiguous()) for k, v in d.items())


def params_of(model):
    return OrderedDict((k, p.detach().clone()) for k, p in model.named_parameters())


def grads_of(model):
    return OrderedDict((k, p.grad.detach().clone()) for k, p in model.named_parameters())


def buffers_of(model):
    return OrderedDict((k, b.detach().clone()) for k, b in model.named_buffers() if not k.endswith("num_batches_tracked"))


def to_ours(kind, d):
    """A dict in PyTorch's names/layouts -> ours (conv KCRS -> KRSC, D's h.1.weight columns CHW -> HWC)."""
    conv = convert_srgan.generator_to_ours if kind == "G" else convert_srgan.discriminator_to_ours
    return conv(d)[0]


def prefixed(prefix, d):
    return OrderedDict((prefix + k, v) for k, v in d.items())


def make_models():
    g = Generator(G_BLOCKS, G_WIDTH)
    randomise_bn_prelu(g)
    d = Discriminator(D_CROP, D_WIDTH, D_DENSE)
    randomise_bn_prelu(d)
    v = vgg19_features(VGG_DIVISOR)[:9]  # features[:9] = up to conv2_2 and its ReLU (phi22)
    for m in v.modules():
        if isinstance(m, nn.Conv2d):
            # as make_model_fixtures.make_vgg: fan_in keeps the narrow net's signal alive, biases matter
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            m.bias.data.uniform_(-0.05, 0.05)
    # float32 values, computed with in float64 from here on
    return g.double(), d.double(), v.double()


def adam(model):
    return torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)


def bce(logits, real):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))


def scalars(d):
    return OrderedDict(("loss." + k, torch.tensor(float(v), dtype=torch.float64).reshape(())) for k, v in d.items())


def pretrain_reference(g, lr, hr):
    opt = adam(g)
    before = params_of(g)
    g.train()
    opt.zero_grad()
    sr = g(lr)
    loss = F.mse_loss(sr, hr)
    loss.backward()
    grads = grads_of(g)
    opt.step()
    update = OrderedDict((k, p.detach() - before[k]) for k, p in g.named_parameters())
    out = scalars({"g_total": loss.item(), "pixel_mse": loss.item()})
    out.update(prefixed("grad.", f32(to_ours("G", grads))))
    out.update(prefixed("update.", f32(to_ours("G", update))))
    out.update(prefixed("after.", buffers_of(g)))  # float64 running statistics (1-D: no layout change)
    return out


def gan_reference(g, d, v, lr, hr):
    g_opt, d_opt = adam(g), adam(d)
    g_before, d_before = params_of(g), params_of(d)
    g.train(); d.train(); v.eval()
    for p in v.parameters():
        p.requires_grad_(False)
    norm = lambda x: (x - MEAN) / STD  # noqa: E731
    sr = g(lr)
    # 1. discriminator
    d_opt.zero_grad()
    real_logits = d(hr)
    fake_logits = d(sr.detach())
    d_real, d_fake = bce(real_logits, True), bce(fake_logits, False)
    d_total = d_real + d_fake
    d_total.backward()
    d_opt.step()
    # 2. generator through the updated D; D's grads are NOT zeroed (gan_step does not either)
    g_opt.zero_grad()
    sr_logits = d(sr)
    with torch.no_grad():
        target = v(norm(hr))
    content = F.mse_loss(v(norm(sr)) * VGG_SCALE, target * VGG_SCALE)  # the paper's form: features / 12.75
    adversarial = bce(sr_logits, True)
    g_total = content + ADV_WEIGHT * adversarial
    g_total.backward()
    g_opt.step()
    with torch.no_grad():
        pixel = F.mse_loss(sr, hr)
    losses = {"g_total": g_total.item(), "content": content.item(), "vgg": content.item(),
              "pixel_mse": pixel.item(), "adversarial": adversarial.item(), "d_total": d_total.item(),
              "d_real": d_real.item(), "d_fake": d_fake.item(),
              "d_hr": torch.sigmoid(real_logits).mean().item(), "d_sr": torch.sigmoid(fake_logits).mean().item()}
    out = scalars(losses)
    for name, model, before in (("G", g, g_before), ("D", d, d_before)):
        update = OrderedDict((k, p.detach() - before[k]) for k, p in model.named_parameters())
        out.update(prefixed(f"grad.{name}.", f32(to_ours(name, grads_of(model)))))
        out.update(prefixed(f"update.{name}.", f32(to_ours(name, update))))
        out.update(prefixed(f"after.{name}.", buffers_of(model)))
    return out, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures", "train"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(20240611)
    g, d, v = make_models()
    lr = torch.rand(2, 3, 4, 4).double()
    hr = torch.rand(2, 3, D_CROP, D_CROP).double()

    total = 0
    g_sd, g_meta = convert_srgan.generator_to_ours(g.state_dict())
    d_sd, d_meta = convert_srgan.discriminator_to_ours(d.state_dict())
    v_sd, v_meta = convert_vgg19.vgg19_to_ours(OrderedDict(("features." + k, t) for k, t in v.state_dict().items()),
                                               layer="conv2_2", after_relu=True)
    total += save(args.out, "g_init.safetensors", f32(g_sd), g_meta)
    total += save(args.out, "d_init.safetensors", f32(d_sd), d_meta)
    total += save(args.out, "vgg.safetensors", f32(v_sd), v_meta)
    total += save(args.out, "batch.safetensors", f32(OrderedDict(lr=nhwc(lr), hr=nhwc(hr))),
                  {"adam_lr": repr(LR), "beta1": repr(BETAS[0]), "beta2": repr(BETAS[1]), "eps": repr(EPS),
                   "vgg_feature_scale": repr(VGG_SCALE), "adversarial_weight": repr(ADV_WEIGHT),
                   "note": "lr (2,4,4,3), hr (2,16,16,3), NHWC in [0,1]; reference computed in float64"})

    # each step starts from the same initial weights, with fresh Adam state
    total += save(args.out, "pretrain_ref.safetensors", pretrain_reference(copy.deepcopy(g), lr, hr),
                  {"note": "one SRResNet MSE step: loss.*, grad.* and update.* (float32), after.* BN buffers"})
    gan, losses = gan_reference(copy.deepcopy(g), copy.deepcopy(d), copy.deepcopy(v), lr, hr)
    total += save(args.out, "gan_ref.safetensors", gan,
                  {"note": "one SRGAN step (D then G): grad.D.* = D-step gradient + G-step backward into D"})
    print("gan losses: " + ", ".join(f"{k}={x:.6g}" for k, x in losses.items()), file=sys.stderr)
    print(f"total {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
