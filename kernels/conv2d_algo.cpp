// Names of the convolution algorithms (compiled in every build, so CPU-only tools can print them).
#include "kernels/conv2d.h"

namespace srgan::kern {

const char* conv_algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::v1_direct: return "v1_direct";
    case ConvAlgo::v2_smem_tiled: return "v2_smem_tiled";
    case ConvAlgo::v3_implicit_gemm_tf32: return "v3_implicit_gemm_tf32";
    case ConvAlgo::v4_implicit_gemm_tf32_multistage: return "v4_implicit_gemm_tf32_multistage";
    case ConvAlgo::cudnn: return "cudnn";
  }
  return "unknown";
}

const std::vector<ConvVariant>& conv_variants() {
  static const std::vector<ConvVariant> v = {
      {ConvAlgo::v1_direct, "v1_direct", false, false, "every shape"},
      {ConvAlgo::v2_smem_tiled, "v2_smem_tiled", false, false, "every shape"},
      {ConvAlgo::v3_implicit_gemm_tf32, "v3_implicit_gemm_tf32", true, false, "every shape"},
      {ConvAlgo::v4_implicit_gemm_tf32_multistage, "v4_implicit_gemm_tf32_multistage", true, false,
       "forward with C % 4 == 0 and C >= 32, backward-data with K % 4 == 0, K >= 32 (filters up to "
       "15 x 15 and, when strided, at least as wide as the stride: stride^2 stride-1 phases; 16-byte aligned "
       "activations), backward-weight with C % 4 == 0 and K % 4 == 0; "
       "forward with K <= 4, stride 1, C % 8 == 0 and S <= 9, and backward-weight with K <= 4, in fp32 FMA "
       "(narrow-N); the rest run v3"},
      {ConvAlgo::cudnn, "cudnn", false, true, "every shape cuDNN supports"},
  };
  return v;
}

ConvAlgo default_conv_algo(bool tf32) {
  return tf32 ? ConvAlgo::v4_implicit_gemm_tf32_multistage : ConvAlgo::v2_smem_tiled;
}

const char* cpu_conv_algo_name(CpuConvAlgo a) {
  switch (a) {
    case CpuConvAlgo::reference: return "reference";
    case CpuConvAlgo::im2col: return "im2col";
    case CpuConvAlgo::winograd_f2: return "winograd2";
    case CpuConvAlgo::winograd_f4: return "winograd4";
  }
  return "unknown";
}

}  // namespace srgan::kern
