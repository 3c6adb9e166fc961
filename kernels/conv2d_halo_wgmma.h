// conv2d v8's own kernel (kernels/conv2d_halo_wgmma_cuda.cu, built for sm_90a only): the 3x3
// stride-1 convolutions gathering 64 channels (SRResNet's body and upsampling, VGG's and D's first
// 64-channel layers), forward and backward-data, as v6's halo
// tile (conv2d_halo_cuda.cuh) on Hopper's own path: the input halo brought by the bulk tensor copy
// engine (TMA, cp.async.bulk.tensor on an mbarrier) and multiplied by wgmma (HGMMA, TF32) straight
// from shared memory. The host API, plain C++ (conv2d_halo_paths_cuda.cu calls it).
#pragma once
#include <cuda_runtime.h>

#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::halo_wgmma {

struct Params {
  const float* x;  // the gathered tensor (N, Hin, Win, 64), 16-byte aligned: x forward, dy backward-data
  const float* w;  // (Nout, 3, 3, 64), 16-byte aligned: w forward, its transpose (C, 3, 3, K) backward-data
  int N, Hin, Win;
  int Hout, Wout;  // the output (N, Hout, Wout, Nout), written through the epilogue
  int Nout;        // a multiple of 64: blockIdx.y picks 64 of them (a slice of the filters)
  int pad;         // input row (column) of output row (column) 0's tap 0 is -pad
};

// Whether this kernel can run on the current device: compute capability 9.0 exactly (an sm_90a
// binary runs nowhere else), its 226 KiB of shared memory, and the driver's tensor-map encoder.
bool runs_here();
// Whether it takes a pass: 3x3 stride 1, 64 gathered channels into a multiple of 64 outputs,
// aligned operands.
bool applies(int R, int S, int stride, int cin, int nout, const void* x, const void* w);

// out = epilogue(conv3x3(x, w)), FLIP turning the filters half a turn (backward-data). A persistent
// grid of about `sms` blocks, split over the 64-filter slices. Throws std::runtime_error if the
// tensor map cannot be encoded.
template <bool FLIP>
void launch(const Params& p, const tg::BiasActEpi& epi, int sms, cudaStream_t s);

}  // namespace srgan::kern::cuda::halo_wgmma
