// Column sums of a row-major (rows, cols) matrix: out[c] = sum_r x[r, c].
// The bias gradient of a convolution (dy viewed as (N*P*Q, K)) or of a linear layer.
// Two-stage, fixed summation order (deterministic); overwrites out.
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace srgan::kern {

// CPU: accumulated in double, in row order.
template <typename T> void column_sum_cpu(const T* x, int64_t rows, int cols, T* out);

void column_sum_cuda(const float* x, int64_t rows, int cols, float* out, Stream s);

}  // namespace srgan::kern
