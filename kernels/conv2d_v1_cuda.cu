// conv2d v1 (see conv2d_v1.h): the direct kernels and their launchers.
#include "kernels/conv2d_v1.h"

#include "kernels/cuda_check.h"
#include "kernels/cuda_util.cuh"

namespace srgan::kern::cuda::conv_v1 {
namespace {

// y[n,p,q,k] = act(b[k] + sum_{r,s,c} x[n, p*st-pad+r, q*st-pad+s, c] * w[k,r,s,c]).
// One thread per output element; k is the fastest index, so a warp shares one input pixel.
__global__ void conv2d_forward_kernel_v1_direct(tg::ConvGeom g, const float* __restrict__ x,
                                                const float* __restrict__ w,
                                                tg::BiasActEpi epi) {
  const int64_t total = int64_t(g.N) * g.P * g.Q * g.K;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int k = int(i % g.K);
    const int pix = int(i / g.K);  // (n, p, q)
    const int q = pix % g.Q, p = (pix / g.Q) % g.P, n = pix / (g.P * g.Q);
    float acc = 0.f;
    for (int r = 0; r < g.R; ++r) {
      const int h = p * g.stride - g.pad + r;
      if (h < 0 || h >= g.H) continue;
      for (int s = 0; s < g.S; ++s) {
        const int wc = q * g.stride - g.pad + s;
        if (wc < 0 || wc >= g.W) continue;
        const float* xp = x + ((int64_t(n) * g.H + h) * g.W + wc) * g.C;
        const float* wp = w + ((int64_t(k) * g.R + r) * g.S + s) * g.C;
        for (int c = 0; c < g.C; ++c) acc = fmaf(xp[c], wp[c], acc);
      }
    }
    epi(pix, k, acc, 0);
  }
}

// dx[n,h,w,c] = sum_{r,s,k} dy[n,p,q,k] * w[k,r,s,c] over the (p,q) with p*st-pad+r = h and
// q*st-pad+s = w. One thread per input element; c fastest, so weight reads are coalesced.
__global__ void conv2d_backward_data_kernel_v1_direct(tg::ConvGeom g, const float* __restrict__ dy,
                                                      const float* __restrict__ w,
                                                      float* __restrict__ dx) {
  const int64_t total = int64_t(g.N) * g.H * g.W * g.C;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int c = int(i % g.C);
    const int pix = int(i / g.C);
    const int wc = pix % g.W, h = (pix / g.W) % g.H, n = pix / (g.W * g.H);
    float acc = 0.f;
    for (int r = 0; r < g.R; ++r) {
      const int pn = h + g.pad - r;  // = p * stride
      if (pn < 0 || pn % g.stride != 0) continue;
      const int p = pn / g.stride;
      if (p >= g.P) continue;
      for (int s = 0; s < g.S; ++s) {
        const int qn = wc + g.pad - s;
        if (qn < 0 || qn % g.stride != 0) continue;
        const int q = qn / g.stride;
        if (q >= g.Q) continue;
        const float* dyp = dy + ((int64_t(n) * g.P + p) * g.Q + q) * g.K;
        const float* wp = w + (int64_t(r) * g.S + s) * g.C + c;  // + k * R*S*C
        const int64_t wk = int64_t(g.R) * g.S * g.C;
        for (int k = 0; k < g.K; ++k) acc = fmaf(dyp[k], wp[k * wk], acc);
      }
    }
    dx[i] = acc;
  }
}

// dw[k,r,s,c] = sum_{n,p,q} dy[n,p,q,k] * x[n, p*st-pad+r, q*st-pad+s, c].
// One warp per weight element: lane l sums pixels l, l+32, ...; then a shuffle reduction.
__global__ void conv2d_backward_weight_kernel_v1_direct(tg::ConvGeom g, const float* __restrict__ x,
                                                        const float* __restrict__ dy,
                                                        float* __restrict__ dw) {
  const int64_t total = int64_t(g.K) * g.R * g.S * g.C;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t(gridDim.x) * blockDim.x) >> 5;
  const int npix = g.N * g.P * g.Q;
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; i < total; i += warps) {
    const int c = int(i % g.C), s = int((i / g.C) % g.S), r = int((i / (int64_t(g.C) * g.S)) % g.R);
    const int k = int(i / (int64_t(g.C) * g.S * g.R));
    float acc = 0.f;
    for (int pix = lane; pix < npix; pix += 32) {
      const int q = pix % g.Q, p = (pix / g.Q) % g.P, n = pix / (g.P * g.Q);
      const int h = p * g.stride - g.pad + r, wc = q * g.stride - g.pad + s;
      if (h < 0 || h >= g.H || wc < 0 || wc >= g.W) continue;
      acc = fmaf(dy[int64_t(pix) * g.K + k], x[((int64_t(n) * g.H + h) * g.W + wc) * g.C + c], acc);
    }
    acc = warp_sum(acc);
    if (lane == 0) dw[i] = acc;
  }
}

}  // namespace

void forward(const tg::ConvGeom& g, const float* x, const float* w, const tg::BiasActEpi& epi, cudaStream_t s) {
  const int64_t total = int64_t(g.N) * g.P * g.Q * g.K;
  conv2d_forward_kernel_v1_direct<<<grid_for(total, kThreads, 65536), kThreads, 0, s>>>(g, x, w, epi);
  SRGAN_LAUNCH_CHECK(s);
}

void backward_data(const tg::ConvGeom& g, const float* dy, const float* w, float* dx, cudaStream_t s) {
  const int64_t total = int64_t(g.N) * g.H * g.W * g.C;
  conv2d_backward_data_kernel_v1_direct<<<grid_for(total, kThreads, 65536), kThreads, 0, s>>>(g, dy, w, dx);
  SRGAN_LAUNCH_CHECK(s);
}

void backward_weight(const tg::ConvGeom& g, const float* x, const float* dy, float* dw, cudaStream_t s) {
  const int64_t warps = int64_t(g.K) * g.R * g.S * g.C;
  conv2d_backward_weight_kernel_v1_direct<<<grid_for(warps * 32, kThreads, 65536), kThreads, 0, s>>>(g, x, dy, dw);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda::conv_v1
