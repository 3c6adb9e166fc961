// conv2d v1 (kernels/conv2d_v1_cuda.cu): one thread per output element, a plain loop over the
// receptive field; the weight gradient one warp per element. The readable first rung of the
// ladder (conv2d_cuda.cu lists them all). Host API, plain C++.
#pragma once
#include <cuda_runtime.h>

#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda::conv_v1 {

// y (N, P, Q, K) through epi from x (N, H, W, C) and w (K, R, S, C).
void forward(const tg::ConvGeom& g, const float* x, const float* w, const tg::BiasActEpi& epi, cudaStream_t s);
// dx (N, H, W, C) from dy (N, P, Q, K) and w.
void backward_data(const tg::ConvGeom& g, const float* dy, const float* w, float* dx, cudaStream_t s);
// dw (K, R, S, C) from x and dy.
void backward_weight(const tg::ConvGeom& g, const float* x, const float* dy, float* dw, cudaStream_t s);

}  // namespace srgan::kern::cuda::conv_v1
