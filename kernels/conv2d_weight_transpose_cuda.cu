// The filter transpose of conv2d's backward-data paths (see conv2d_weight_transpose.h).
#include "kernels/conv2d_weight_transpose.h"

#include "kernels/cuda_check.h"

namespace srgan::kern::cuda {
namespace {

// wT[c][t][u][k] = w[k][r0 + step*t][s0 + step*u][c] over the taps' (t, u) (for the backward-data
// GEMM, whose B operand wants k innermost; all taps: wT[c][r][s][k] = w[k][r][s][c]). Per tap it
// is a transpose of a K x C matrix: a block moves a 32 x 32 tile through shared memory (pitch
// 33: conflict-free both ways), so both the reads (32 consecutive c) and the writes (32
// consecutive k) are whole 128-byte lines. (A thread per element read w with a stride of
// R S C floats: 1 useful float in 8 of each sector.)
// grid: (ceil(C / 32), ceil(K / 32), taps R x S); block (32, 8).
__global__ void conv2d_transpose_weight_kernel(tg::ConvGeom g, dgrad::Taps taps, const float* __restrict__ w,
                                               float* __restrict__ wT) {
  __shared__ float tile[32][33];  // [k - k0][c - c0]
  const int t = int(blockIdx.z) / taps.S, u = int(blockIdx.z) - t * taps.S;
  const int r = taps.r0 + taps.step * t, s = taps.s0 + taps.step * u;
  const int c0 = int(blockIdx.x) * 32, k0 = int(blockIdx.y) * 32, tx = int(threadIdx.x);
  for (int j = int(threadIdx.y); j < 32; j += 8) {
    const int k = k0 + j, c = c0 + tx;
    if (k < g.K && c < g.C) tile[j][tx] = w[((int64_t(k) * g.R + r) * g.S + s) * g.C + c];
  }
  __syncthreads();
  for (int j = int(threadIdx.y); j < 32; j += 8) {
    const int c = c0 + j, k = k0 + tx;
    if (c < g.C && k < g.K) wT[((int64_t(c) * taps.R + t) * taps.S + u) * g.K + k] = tile[tx][j];
  }
}

}  // namespace

void transpose_conv_weight(const tg::ConvGeom& g, const dgrad::Taps& taps, const float* w, float* wT, cudaStream_t s) {
  const dim3 grid(unsigned((g.C + 31) / 32), unsigned((g.K + 31) / 32), unsigned(taps.R * taps.S));
  conv2d_transpose_weight_kernel<<<grid, dim3(32, 8), 0, s>>>(g, taps, w, wT);
  SRGAN_LAUNCH_CHECK(s);
}

}  // namespace srgan::kern::cuda
