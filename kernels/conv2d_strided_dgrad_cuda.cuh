// Backward-data of a strided convolution as stride^2 stride-1 problems (internal to
// kernels/conv2d_cuda.cu; the decomposition cuDNN and CUTLASS call "strided dgrad").
//
// dx[n, h, w, c] = sum over (r, s, k) with (h + pad - r) and (w + pad - s) multiples of the
// stride st of dy[n, (h + pad - r) / st, (w + pad - s) / st, k] * w[k, r, s, c].
// Split the rows of dx by phase (a, b) = (h mod st, w mod st): in phase a only the taps
// r = r0 + st * t with r0 = (a + pad) mod st contribute, and for h = a + st * i
//   (h + pad - r) / st = i + oh - t,   oh = (a + pad - r0) / st   (an exact division),
// a stride-1 gather of dy with the sub-filter w[k, r0 + st*t, s0 + st*u, c]: the v4 backward-
// data GEMM of conv2d_cuda.cu as it is (rows (n, i, j), reduction (t, u, k), dy's origin offset
// (oh, ow) in place of the padding), with the transposed sub-filter as B and an epilogue that
// writes row (n, i, j) to dx pixel (n, a + st*i, b + st*j). No division by the stride in the
// main loop (v3 divides per element) and no multiply-add on the taps that miss, which for 3x3
// stride 2 are three quarters of them (1, 2 or 4 of 9 land; v3 issues the rest as zeros).
// Every phase needs a tap in each direction (R >= st and S >= st, which the host checks): a
// phase without one would have to write zeros.
#pragma once
#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::dgrad {

// Taps of the filter that one phase uses: r = r0 + step * t (t < R), s = s0 + step * u (u < S).
// {0, 0, 1, R, S} is the whole filter.
struct Taps {
  int r0, s0, step, R, S;
};

// One phase (a, b) of dx: its pixels, taps and dy offset.
struct Phase {
  int a, b;    // dx rows a + st*i, columns b + st*j
  int Hp, Wp;  // i < Hp, j < Wp (0: the phase has no pixels)
  Taps taps;
  int oh, ow;  // dy row of (i, t) is i + oh - t, column of (j, u) is j + ow - u
};

inline int ceil_div(int x, int y) { return x > 0 ? (x + y - 1) / y : 0; }

inline Phase phase_of(const Conv2dParams& p, int a, int b) {
  const int st = p.stride;
  Phase ph;
  ph.a = a, ph.b = b;
  ph.Hp = ceil_div(p.H - a, st);
  ph.Wp = ceil_div(p.W - b, st);
  const int r0 = (a + p.pad) % st, s0 = (b + p.pad) % st;
  ph.taps = {r0, s0, st, ceil_div(p.R - r0, st), ceil_div(p.S - s0, st)};
  ph.oh = (a + p.pad - r0) / st;
  ph.ow = (b + p.pad - s0) / st;
  return ph;
}

// Row m = (n, i, j) of a phase's GEMM to dx[n, a + st*i, b + st*j, :] (C columns).
struct PhaseScatterEpi {
  float* dx;
  int C, H, W, st, a, b, Hp, Wp;
  SRGAN_HD void operator()(int m, int n, float v, int) const {
    const int hw = Hp * Wp;
    const int img = m / hw, rem = m - img * hw, i = rem / Wp, j = rem - i * Wp;
    dx[((int64_t(img) * H + a + st * i) * W + b + st * j) * C + n] = v;
  }
};

}  // namespace srgan::kern::cuda::dgrad
