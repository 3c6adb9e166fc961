// The cuDNN and cuBLAS baselines in the CUDA emulator's build: they cannot run on the CPU, so
// each entry point throws, naming itself. The emulated tests skip the baseline variants.
#include <stdexcept>
#include <string>

#include "kernels/batchnorm_cudnn.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/gemm_cublas.h"

namespace srgan::kern {
namespace {
[[noreturn]] void absent(const char* what) {
  throw std::runtime_error(std::string(what) + ": cuDNN and cuBLAS are not available in the CUDA emulator");
}
bool g_conv_tf32 = false, g_gemm_tf32 = false;
}  // namespace

void conv2d_cudnn_set_allow_tf32(bool allow) { g_conv_tf32 = allow; }
bool conv2d_cudnn_allow_tf32() { return g_conv_tf32; }
void gemm_cublas_set_allow_tf32(bool allow) { g_gemm_tf32 = allow; }
bool gemm_cublas_allow_tf32() { return g_gemm_tf32; }

void gemm_cublas(const GemmParams&, const float*, const float*, float*, Stream) { absent("gemm_cublas"); }
void gemm_cublas_bf16_square(int, const void*, const void*, float*, Stream) { absent("gemm_cublas_bf16_square"); }
void conv2d_forward_cudnn(const Conv2dParams&, const float*, const float*, const float*, float*, Stream) {
  absent("conv2d_forward_cudnn");
}
void conv2d_backward_data_cudnn(const Conv2dParams&, const float*, const float*, float*, Stream) {
  absent("conv2d_backward_data_cudnn");
}
void conv2d_backward_weight_cudnn(const Conv2dParams&, const float*, const float*, float*, float*, Stream) {
  absent("conv2d_backward_weight_cudnn");
}
void batchnorm_forward_train_cudnn(const BatchNormParams&, const float*, const float*, const float*, float*, float*,
                                   float*, float*, float*, Stream) {
  absent("batchnorm_forward_train_cudnn");
}
void batchnorm_backward_train_cudnn(const BatchNormParams&, const float*, const float*, const float*, const float*,
                                    const float*, float*, float*, float*, Stream) {
  absent("batchnorm_backward_train_cudnn");
}

}  // namespace srgan::kern
