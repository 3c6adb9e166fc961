"""CPU anchor for the SRGAN training step: PyTorch beside `srgan bench steps --device cpu --gan`.

../shared/bench/anchor_cpu.py times inference and the SRResNet MSE step only; this adds the SRGAN
step with the same networks (../shared/bench/srgan_torch.py: generator with 16 blocks, the 96x96
discriminator, VGG19 up to conv5_4 with random weights) and the same step as anchor_gpu.py's
`gan_step` (discriminator update on HR and detached SR, then generator update with VGG54 MSE x
0.006 + 1e-3 BCE + pixel MSE), fp32, batch 4 (as the MSE anchor), 24x24 -> 96x96.

Run with Debian's PyTorch:  THREADS=2 /usr/bin/python3 tools/scripts/anchor_cpu_gan.py [--batch N]
Prints one JSON object.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "bench"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from srgan_torch import Discriminator, Generator, vgg19_54  # noqa: E402


def median_ms(f, n, warm):
    for _ in range(warm):
        f()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    torch.manual_seed(0)
    n, hr_side = a.batch, 96
    G, D, V = Generator(), Discriminator(hr_side), vgg19_54()
    oG = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.9, 0.999))
    oD = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.9, 0.999))
    lr = torch.rand(n, 3, hr_side // 4, hr_side // 4)  # (N, 3, 24, 24)
    hr = torch.rand(n, 3, hr_side, hr_side)            # (N, 3, 96, 96)
    ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)

    def gan_step():
        sr = G(lr)
        oD.zero_grad(set_to_none=True)
        ld = (F.binary_cross_entropy_with_logits(D(hr), ones)
              + F.binary_cross_entropy_with_logits(D(sr.detach()), zeros))
        ld.backward()
        oD.step()
        oG.zero_grad(set_to_none=True)
        lg = (F.mse_loss(V(sr), V(hr)) * 0.006 + 1e-3 * F.binary_cross_entropy_with_logits(D(sr), ones)
              + F.mse_loss(sr, hr))
        lg.backward()
        oG.step()

    R = {"threads": torch.get_num_threads(), "torch": torch.__version__,
         f"srgan_step_b{n}_vgg54_ms": median_ms(gan_step, a.repeats, 1)}
    print(json.dumps(R, indent=1))


if __name__ == "__main__":
    main()
