// The filter transpose of conv2d's backward-data paths (kernels/conv2d_weight_transpose_cuda.cu):
// their GEMMs want the filter with the output channels k innermost. Host API, plain C++.
#pragma once
#include <cuda_runtime.h>

#include "kernels/conv2d_strided_dgrad_cuda.cuh"
#include "kernels/tile_gemm_core.h"

namespace srgan::kern::cuda {

// wT (C, taps.R, taps.S, K) from w (K, R, S, C): wT[c][t][u][k] = w[k][r0 + step t][s0 + step u][c],
// on stream s. taps {0, 0, 1, R, S} is the whole filter.
void transpose_conv_weight(const tg::ConvGeom& g, const dgrad::Taps& taps, const float* w, float* wT, cudaStream_t s);

}  // namespace srgan::kern::cuda
