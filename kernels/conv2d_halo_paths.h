// The passes of conv2d v6, v7 and v8 that their own kernels run (kernels/conv2d_halo_paths_cuda.cu):
// the halo tile with resident filters (v8: on wgmma where it gathers 64 channels on an H100), with
// streamed filters, the tail and narrow-C paths, and the halo weight gradient. Each entry point
// runs the pass and returns true, or returns false where none of them takes the shape (or the
// algorithm is not v6, v7 or v8), and conv2d_cuda.cu runs v4's (v5's) paths. Host API, plain C++.
#pragma once
#include <cuda_runtime.h>

#include "kernels/conv2d.h"
#include "kernels/tile_gemm_core.h"

namespace srgan::kern::conv2d_halo {

// v6, v7 or v8.
bool is_halo_algo(ConvAlgo algo);
// Whether a variant's tensor cores take BF16 operands (v5, v7) rather than TF32 (v3, v4, v6, v8);
// read by this file's paths and by conv2d_cuda.cu's.
inline bool bf16_operands(ConvAlgo algo) {
  return algo == ConvAlgo::v5_implicit_gemm_bf16_multistage || algo == ConvAlgo::v7_halo_tile_bf16;
}
// y through epi from x and w (any alignment of w: a misaligned one is copied to the workspace).
bool forward(const Conv2dParams& p, const float* x, const float* w, const cuda::tg::BiasActEpi& epi, ConvAlgo algo,
             cudaStream_t s);
// dx from dy and w.
bool backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx, ConvAlgo algo, cudaStream_t s);
// dw from x and dy (the bias gradient is the caller's: a column sum of dy after this).
bool backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw, ConvAlgo algo, cudaStream_t s);

}  // namespace srgan::kern::conv2d_halo
