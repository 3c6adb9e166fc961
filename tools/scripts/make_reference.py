#!/usr/bin/python3
"""PyTorch reference fixtures for the C++ parity tests (tests/test_parity_torch.cpp).

For every differentiable op in core/ops.h (and Adam) this script builds small deterministic
inputs, runs the op in PyTorch, back-propagates a fixed random upstream gradient g (the loss is
sum(out * g)), and writes inputs, output and input gradients into tests/fixtures/reference/*.srgf,
one file per op group. The C++ side (tests/fixture_reader.h) reads them back.

References are computed in float64 (the C++ test runs our op in double and expects agreement to
~1e-10 relative); a few cases are also written in float32 as PyTorch computes them in float32
(the C++ test runs our op in float and allows ~1e-5).

Layout: our engine is NHWC for activations and KRSC for conv weights; PyTorch is NCHW / KCRS.
The script computes in PyTorch's layout and permutes every 4-d tensor (inputs, outputs, upstream
and input gradients) to ours before writing. Nothing in a fixture is in PyTorch's layout.

Inputs stay away from kinks: ReLU / leaky ReLU / PReLU inputs have |x| >= 0.1, max-pool inputs
are a random permutation of distinct values spaced 1/numel apart (no ties in a window).

File format, version 1 (all integers little-endian; must match tests/fixture_reader.h):
    bytes  0..3   magic "SRGF"
    uint32        version (= 1)
    uint32        number of arrays
    then, for each array:
      uint32        length of the name in bytes, then the name (ASCII, e.g. "c0.x")
      uint32        dtype code: 0 = float32, 1 = float64
      uint32        ndim (0 for a scalar)
      int64[ndim]   shape
      data          prod(shape) elements, little-endian, row-major (C order)
Names inside a file: "<case>.<field>", e.g. "c0.x", "c0.w", "c0.y", "c0.g" (upstream gradient),
"c0.dx" (gradient of x). Per-case settings are float64 scalars ("c0.stride", "c0.pad", ...),
the number of cases is the float64 scalar "cases".

usage:  /usr/bin/python3 tools/scripts/make_reference.py [--out DIR]   (default tests/fixtures/reference)
Runs in a few seconds on the CPU with Debian's python3-torch (1.13); the output is deterministic.
"""
import argparse
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "reference")
MAGIC = b"SRGF"
VERSION = 1
DTYPE_CODE = {np.dtype(np.float32): 0, np.dtype(np.float64): 1}


# ---------------------------------------------------------------- writer
class Fixture:
    """An ordered set of named arrays, written as one .srgf file."""

    def __init__(self, name):
        self.name = name
        self.arrays = []  # (name, np.ndarray)
        self.cases = 0

    def put(self, name, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        a = np.asarray(value)
        if a.dtype not in DTYPE_CODE:
            a = a.astype(np.float64)  # settings (stride, pad, ...) are float64 scalars
        if any(n == name for n, _ in self.arrays):
            raise ValueError("duplicate array name %s in %s" % (name, self.name))
        self.arrays.append((name, np.array(a, order="C", copy=True)))  # keeps 0-d scalars 0-d

    def case(self, fields):
        """Adds one case: fields maps a field name to a tensor / number. Returns the case prefix."""
        prefix = "c%d" % self.cases
        for k, v in fields.items():
            self.put(prefix + "." + k, v)
        self.cases += 1
        return prefix

    def write(self, out_dir):
        self.put("cases", float(self.cases))
        path = os.path.join(out_dir, self.name + ".srgf")
        with open(path, "wb") as f:
            f.write(MAGIC)
            f.write(struct.pack("<II", VERSION, len(self.arrays)))
            for name, a in self.arrays:
                nb = name.encode("ascii")
                f.write(struct.pack("<I", len(nb)))
                f.write(nb)
                f.write(struct.pack("<II", DTYPE_CODE[a.dtype], a.ndim))
                f.write(struct.pack("<%dq" % a.ndim, *a.shape))
                f.write(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes(order="C"))
        numbers = sum(a.size for _, a in self.arrays)
        print("%-28s %3d cases %6d numbers %8d bytes" % (os.path.relpath(path, REPO), self.cases, numbers,
                                                           os.path.getsize(path)))
        return os.path.getsize(path)


# ---------------------------------------------------------------- helpers
def nhwc(t):
    """NCHW (PyTorch) -> NHWC (ours); also KCRS -> KRSC for conv weights."""
    return t.detach().permute(0, 2, 3, 1).contiguous()


def randn(*shape, dtype):
    return torch.randn(*shape, dtype=torch.float64).to(dtype)


def uniform(lo, hi, *shape, dtype):
    return (torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo).to(dtype)


def away_from_zero(*shape, dtype, lo=0.1, hi=1.5):
    """Random sign times U(lo, hi): no value within lo of the ReLU-family kink at 0."""
    mag = torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo
    sign = torch.where(torch.rand(*shape, dtype=torch.float64) < 0.5, -1.0, 1.0).to(torch.float64)
    return (mag * sign).to(dtype)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def backward(y, g):
    """Back-propagates sum(y * g)."""
    (y * g).sum().backward()


def grad_or_zero(t):
    return t.grad if t.grad is not None else torch.zeros_like(t)


def dtype_name(dtype):
    return "f64" if dtype == torch.float64 else "f32"


# ---------------------------------------------------------------- op groups
def make_conv2d():
    torch.manual_seed(1001)
    fx = Fixture("conv2d")
    # (N, C, H, W, K, R, stride, pad, bias, dtype): square kernels R x R
    cases = [
        (2, 3, 6, 5, 4, 3, 1, 1, True, torch.float64),   # 3x3 pad 1 stride 1, bias
        (2, 2, 7, 9, 3, 3, 2, 1, True, torch.float64),   # 3x3 stride 2, odd sizes
        (1, 3, 10, 9, 4, 9, 1, 4, True, torch.float64),  # 9x9 pad 4, C = 3 (SRResNet head/tail)
        (2, 5, 5, 3, 3, 1, 1, 0, False, torch.float64),  # 1x1, no bias
        (1, 3, 9, 7, 2, 3, 2, 0, True, torch.float64),   # stride 2 pad 0, odd sizes, dropped edge
        (2, 2, 6, 5, 3, 4, 2, 1, True, torch.float64),   # even kernel 4x4 stride 2 (discriminator-like)
        (1, 3, 5, 7, 2, 5, 3, 2, False, torch.float64),  # 5x5 stride 3, no bias
        (2, 3, 6, 5, 4, 3, 1, 1, True, torch.float32),   # float32 variant of case 0
        (1, 3, 10, 9, 4, 9, 1, 4, True, torch.float32),  # float32 variant of case 2
        (2, 4, 7, 6, 5, 3, 2, 1, True, torch.float32),   # float32 stride 2
    ]
    for (N, C, H, W, K, R, stride, pad, bias, dtype) in cases:
        x = leaf(randn(N, C, H, W, dtype=dtype))
        w = leaf(randn(K, C, R, R, dtype=dtype) * (1.0 / (C * R * R)) ** 0.5)
        b = leaf(randn(K, dtype=dtype) * 0.5) if bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=pad)
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fields = {"x": nhwc(x), "w": nhwc(w), "y": nhwc(y), "g": nhwc(g), "dx": nhwc(x.grad),
                  "dw": nhwc(w.grad), "stride": stride, "pad": pad}
        if bias:
            fields["b"] = b.detach()
            fields["db"] = b.grad
        fx.case(fields)
    return fx


def make_prelu():
    torch.manual_seed(1002)
    fx = Fixture("prelu")
    # (N, C, H, W, slopes, dtype): slopes = 1 (shared) or C (per channel)
    for (N, C, H, W, nslope, dtype) in [(2, 3, 4, 5, 1, torch.float64), (2, 4, 3, 5, 4, torch.float64),
                                        (1, 6, 5, 4, 6, torch.float32), (2, 3, 4, 3, 1, torch.float32)]:
        x = leaf(away_from_zero(N, C, H, W, dtype=dtype))
        a = leaf(uniform(0.05, 0.5, nslope, dtype=dtype))
        y = F.prelu(x, a)
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fx.case({"x": nhwc(x), "a": a, "y": nhwc(y), "g": nhwc(g), "dx": nhwc(x.grad), "da": a.grad})
    return fx


def make_unary(name, fn, seed, kink_free, **settings):
    torch.manual_seed(seed)
    fx = Fixture(name)
    for (N, C, H, W, dtype) in [(2, 3, 4, 5, torch.float64), (1, 5, 3, 7, torch.float64),
                                (2, 4, 3, 3, torch.float32)]:
        if kink_free:
            x = leaf(away_from_zero(N, C, H, W, dtype=dtype))
        else:
            x = leaf(randn(N, C, H, W, dtype=dtype) * 3.0)  # sigmoid: both tails, no kink
        y = fn(x)
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fields = {"x": nhwc(x), "y": nhwc(y), "g": nhwc(g), "dx": nhwc(x.grad)}
        fields.update(settings)
        fx.case(fields)
    return fx


def make_batch_norm():
    torch.manual_seed(1006)
    fx = Fixture("batch_norm")
    momentum, eps = 0.1, 1e-5
    # (N, C, H, W, training, dtype)
    for (N, C, H, W, training, dtype) in [(3, 4, 4, 5, True, torch.float64), (2, 3, 3, 3, True, torch.float64),
                                          (3, 4, 4, 5, False, torch.float64), (4, 5, 3, 4, True, torch.float32),
                                          (2, 5, 3, 4, False, torch.float32)]:
        x = leaf(randn(N, C, H, W, dtype=dtype) * 1.7 + 0.6)
        gamma = leaf(uniform(0.5, 1.5, C, dtype=dtype))
        beta = leaf(randn(C, dtype=dtype) * 0.3)
        rm0 = randn(C, dtype=dtype) * 0.2
        rv0 = uniform(0.5, 2.0, C, dtype=dtype)
        rm, rv = rm0.clone(), rv0.clone()
        y = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=momentum, eps=eps)
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fx.case({"x": nhwc(x), "gamma": gamma, "beta": beta, "running_mean": rm0, "running_var": rv0,
                 "y": nhwc(y), "g": nhwc(g), "dx": nhwc(x.grad), "dgamma": gamma.grad, "dbeta": beta.grad,
                 "running_mean_after": rm, "running_var_after": rv,  # unbiased variance, as PyTorch
                 "training": 1.0 if training else 0.0, "momentum": momentum, "eps": eps})
    return fx


def make_pixel_shuffle():
    torch.manual_seed(1007)
    fx = Fixture("pixel_shuffle")
    for (N, C, H, W, r, dtype) in [(2, 2, 3, 4, 2, torch.float64), (1, 2, 2, 3, 3, torch.float64),
                                   (2, 3, 3, 2, 2, torch.float32)]:
        x = leaf(randn(N, C * r * r, H, W, dtype=dtype))
        y = F.pixel_shuffle(x, r)
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fx.case({"x": nhwc(x), "y": nhwc(y), "g": nhwc(g), "dx": nhwc(x.grad), "r": r})
    return fx


def make_max_pool():
    torch.manual_seed(1008)
    fx = Fixture("max_pool2x2")
    for (N, C, H, W, dtype) in [(2, 3, 4, 6, torch.float64), (1, 4, 5, 7, torch.float64),
                                (2, 2, 7, 5, torch.float32)]:
        n = N * C * H * W
        # distinct values spaced 1/n apart (a random permutation): no ties inside a 2x2 window
        x = leaf(((torch.randperm(n).to(torch.float64) / n) * 4.0 - 2.0).reshape(N, C, H, W).to(dtype))
        y = F.max_pool2d(x, 2)  # floor mode: the last odd row / column is dropped
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fx.case({"x": nhwc(x), "y": nhwc(y), "g": nhwc(g), "dx": nhwc(x.grad)})
    return fx


def make_linear():
    torch.manual_seed(1009)
    fx = Fixture("linear")
    for (M, In, Out, bias, dtype) in [(4, 7, 5, True, torch.float64), (3, 6, 2, False, torch.float64),
                                      (5, 16, 8, True, torch.float32)]:
        x = leaf(randn(M, In, dtype=dtype))
        w = leaf(randn(Out, In, dtype=dtype) * In ** -0.5)
        b = leaf(randn(Out, dtype=dtype) * 0.5) if bias else None
        y = F.linear(x, w, b)
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fields = {"x": x, "w": w, "y": y, "g": g, "dx": x.grad, "dw": w.grad}
        if bias:
            fields["b"] = b
            fields["db"] = b.grad
        fx.case(fields)
    return fx


def make_arith():
    """add, mul, scale, sum, mean, reshape, channel_affine: one file, one case group per op."""
    torch.manual_seed(1010)
    fixtures = []
    shapes = [((2, 3, 4, 5), torch.float64), ((3, 7), torch.float64), ((2, 4, 3, 2), torch.float32)]

    fx = Fixture("add")
    for shape, dtype in shapes:
        a, b = leaf(randn(*shape, dtype=dtype)), leaf(randn(*shape, dtype=dtype))
        y = a + b
        g = randn(*shape, dtype=dtype)
        backward(y, g)
        fx.case({"a": a, "b": b, "y": y, "g": g, "da": a.grad, "db": b.grad})
    fixtures.append(fx)

    fx = Fixture("mul")
    for shape, dtype in shapes:
        a, b = leaf(randn(*shape, dtype=dtype)), leaf(randn(*shape, dtype=dtype))
        y = a * b
        g = randn(*shape, dtype=dtype)
        backward(y, g)
        fx.case({"a": a, "b": b, "y": y, "g": g, "da": a.grad, "db": b.grad})
    fixtures.append(fx)

    fx = Fixture("scale")
    for (shape, dtype), s in zip(shapes, [-1.7, 0.3125, 2.5]):
        x = leaf(randn(*shape, dtype=dtype))
        y = x * s
        g = randn(*shape, dtype=dtype)
        backward(y, g)
        fx.case({"x": x, "y": y, "g": g, "dx": x.grad, "s": s})
    fixtures.append(fx)

    for name, fn in [("sum", torch.sum), ("mean", torch.mean)]:
        fx = Fixture(name)
        for shape, dtype in shapes:
            x = leaf(randn(*shape, dtype=dtype))
            y = fn(x)
            g = randn((), dtype=dtype)  # the upstream gradient of a scalar is a scalar
            backward(y, g)
            fx.case({"x": x, "y": y, "g": g, "dx": x.grad})
        fixtures.append(fx)

    fx = Fixture("reshape")
    for (shape, new_shape, dtype) in [((2, 3, 4, 5), (6, 20), torch.float64), ((3, 7), (21,), torch.float64),
                                      ((2, 4, 3, 2), (2, 1, 12, 2), torch.float32)]:
        x = leaf(randn(*shape, dtype=dtype))
        y = x.reshape(new_shape)
        g = randn(*new_shape, dtype=dtype)
        backward(y, g)
        fx.case({"x": x, "y": y, "g": g, "dx": x.grad})
    fixtures.append(fx)

    fx = Fixture("channel_affine")
    for (N, C, H, W, dtype) in [(2, 3, 4, 5, torch.float64), (1, 6, 3, 3, torch.float64),
                                (2, 4, 3, 2, torch.float32)]:
        x = leaf(randn(N, C, H, W, dtype=dtype))
        sc, sh = randn(C, dtype=dtype), randn(C, dtype=dtype)  # constants
        y = x * sc.view(1, C, 1, 1) + sh.view(1, C, 1, 1)
        g = randn(*y.shape, dtype=dtype)
        backward(y, g)
        fx.case({"x": nhwc(x), "scale": sc, "shift": sh, "y": nhwc(y), "g": nhwc(g), "dx": nhwc(x.grad)})
    fixtures.append(fx)
    return fixtures


def make_losses():
    torch.manual_seed(1011)
    fixtures = []
    shapes = [((2, 3, 4, 5), torch.float64), ((7, 1), torch.float64), ((2, 4, 3, 2), torch.float32)]

    fx = Fixture("mse_loss")
    for shape, dtype in shapes:
        p, t = leaf(randn(*shape, dtype=dtype)), leaf(randn(*shape, dtype=dtype))
        y = F.mse_loss(p, t)
        g = randn((), dtype=dtype)
        backward(y, g)
        fx.case({"pred": p, "target": t, "y": y, "g": g, "dpred": p.grad, "dtarget": t.grad})
    fixtures.append(fx)

    fx = Fixture("bce_with_logits")
    for i, (shape, dtype) in enumerate(shapes):
        z = leaf(randn(*shape, dtype=dtype) * 4.0)  # both tails (stable log-sum-exp matters there)
        if i == 1:  # hard labels, as the discriminator uses
            t = (torch.rand(*shape, dtype=torch.float64) < 0.5).to(dtype)
        else:
            t = torch.rand(*shape, dtype=torch.float64).to(dtype)
        y = F.binary_cross_entropy_with_logits(z, t)
        g = randn((), dtype=dtype)
        backward(y, g)
        fx.case({"logits": z, "target": t, "y": y, "g": g, "dlogits": z.grad})
    fixtures.append(fx)
    return fixtures


def make_adam():
    """torch.optim.Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8), 10 steps, in float32 and float64.
    Stored: initial parameters p{i}, the gradient of every step s{k}.g{i}, the parameters after every
    step s{k}.p{i}, and the moments after the last step m{i}, v{i}."""
    fx = Fixture("adam")
    lr, b1, b2, eps, steps = 1e-3, 0.9, 0.999, 1e-8, 10
    for dtype in [torch.float32, torch.float64]:
        torch.manual_seed(1012)
        shapes = [(4, 3, 3, 2), (4,), (5, 3), (1,)]  # conv weight (KRSC), bias, linear weight, PReLU slope
        params = [randn(*s, dtype=dtype).requires_grad_(True) for s in shapes]
        fields = {"lr": lr, "beta1": b1, "beta2": b2, "eps": eps, "steps": steps, "params": len(params)}
        for i, p in enumerate(params):
            fields["p%d" % i] = p.detach().clone()
        opt = torch.optim.Adam(params, lr=lr, betas=(b1, b2), eps=eps)
        for k in range(steps):
            for i, p in enumerate(params):
                # gradients of very different scales, a few exactly zero, sign flips across steps
                gk = randn(*p.shape, dtype=dtype) * (10.0 ** (i - 2))
                if k == 3:
                    gk.view(-1)[0] = 0.0
                p.grad = gk
                fields["s%d.g%d" % (k, i)] = gk.clone()
            opt.step()
            for i, p in enumerate(params):
                fields["s%d.p%d" % (k, i)] = p.detach().clone()
        for i, p in enumerate(params):
            st = opt.state[p]
            fields["m%d" % i] = st["exp_avg"].clone()
            fields["v%d" % i] = st["exp_avg_sq"].clone()
        fx.case(fields)
    return fx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # the same summation order on every machine
    os.makedirs(args.out, exist_ok=True)

    fixtures = [make_conv2d(), make_prelu(),
                make_unary("relu", F.relu, 1003, True),
                make_unary("leaky_relu", lambda x: F.leaky_relu(x, 0.2), 1004, True, slope=0.2),
                make_unary("sigmoid", torch.sigmoid, 1005, False),
                make_batch_norm(), make_pixel_shuffle(), make_max_pool(), make_linear()]
    fixtures += make_arith()
    fixtures += make_losses()
    fixtures.append(make_adam())
    total = sum(fx.write(args.out) for fx in fixtures)
    print("total %d bytes in %d files (torch %s)" % (total, len(fixtures), torch.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
