// The inference epilogue of a convolution on the CPU (conv2d_fused.h): y (M, K) = act(y * scale +
// shift) + residual, in place, in the same order as the GPU epilogue (tile_gemm_core.h BiasActEpi).
// Rows are spread over the CPU threads (kernels/cpu_parallel.h).
#include "kernels/conv2d_fused.h"
#include "kernels/cpu_parallel.h"
#include "kernels/scalar_math.h"

namespace srgan::kern {

template <typename T>
void conv_epilogue_cpu(int64_t M, int K, const T* scale, const T* shift, const T* slope, bool per_channel,
                       const T* residual, T* y) {
  parallel_for(M, grain_rows(K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      T* yr = y + m * K;
      const T* rr = residual ? residual + m * K : nullptr;
      for (int k = 0; k < K; ++k) {
        T v = yr[k];
        if (scale) v *= scale[k];
        if (shift) v += shift[k];
        if (slope) v = leaky_f(v, per_channel ? slope[k] : slope[0]);
        if (rr) v += rr[k];
        yr[k] = v;
      }
    }
  });
}

template void conv_epilogue_cpu<float>(int64_t, int, const float*, const float*, const float*, bool, const float*,
                                       float*);
template void conv_epilogue_cpu<double>(int64_t, int, const double*, const double*, const double*, bool,
                                        const double*, double*);

}  // namespace srgan::kern
