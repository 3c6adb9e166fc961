// Names of the convolution algorithms (compiled in every build, so CPU-only tools can print them).
#include "kernels/conv2d.h"

namespace srgan::kern {

const char* conv_algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::v1_direct: return "v1_direct";
    case ConvAlgo::v2_smem_tiled: return "v2_smem_tiled";
    case ConvAlgo::v3_implicit_gemm_tf32: return "v3_implicit_gemm_tf32";
    case ConvAlgo::v4_implicit_gemm_tf32_multistage: return "v4_implicit_gemm_tf32_multistage";
    case ConvAlgo::v5_implicit_gemm_bf16_multistage: return "v5_implicit_gemm_bf16_multistage";
    case ConvAlgo::v6_halo_tile_tf32: return "v6_halo_tile_tf32";
    case ConvAlgo::v7_halo_tile_bf16: return "v7_halo_tile_bf16";
    case ConvAlgo::v8_halo_wgmma_tf32: return "v8_halo_wgmma_tf32";
    case ConvAlgo::cudnn: return "cudnn";
  }
  return "unknown";
}

const std::vector<ConvVariant>& conv_variants() {
  static const std::vector<ConvVariant> v = {
      {ConvAlgo::v1_direct, "v1_direct", ConvMath::fp32, false, "every shape"},
      {ConvAlgo::v2_smem_tiled, "v2_smem_tiled", ConvMath::fp32, false, "every shape"},
      {ConvAlgo::v3_implicit_gemm_tf32, "v3_implicit_gemm_tf32", ConvMath::tf32, false, "every shape"},
      {ConvAlgo::v4_implicit_gemm_tf32_multistage, "v4_implicit_gemm_tf32_multistage", ConvMath::tf32, false,
       "forward with C % 4 == 0 and C >= 32, backward-data with K % 4 == 0, K >= 32 (filters up to "
       "15 x 15 and, when strided, at least as wide as the stride: stride^2 stride-1 phases; 16-byte aligned "
       "activations), backward-weight with C % 4 == 0 and K % 4 == 0; "
       "forward with K <= 4, stride 1, C % 8 == 0 and S <= 9, and backward-weight with K <= 4, in fp32 FMA "
       "(narrow-N); the rest run v3"},
      {ConvAlgo::v5_implicit_gemm_bf16_multistage, "v5_implicit_gemm_bf16_multistage", ConvMath::bf16, false,
       "v4's tile paths in BF16 (the same shapes); v4's narrow-N paths (fp32 FMA) and v3 (TF32) for the rest"},
      {ConvAlgo::v6_halo_tile_tf32, "v6_halo_tile_tf32", ConvMath::tf32, false,
       "3x3 stride-1 forward with C = 32 or 64 and backward-data with K = 32 or 64 (16-byte aligned "
       "activations; K, resp. C, >= 16; the device's shared memory must hold the weights: 196 KiB at 64 "
       "channels); with C, resp. K, >= 128 and a multiple of 16, K, resp. C, >= 16 and output width up to 54 "
       "(a 256-pixel tile's halo within 560 pixels) the halo tile with streamed filters (162 KiB); "
       "and backward-weight with C = 64, pad 1, K % 64 == 0 and W % 8 == 0 (TF32, 142 KiB); "
       "forward with K <= 4, K * S <= 32, R <= 9, stride 1 and C % 8 == 0 on the tail path "
       "(TF32, 123 KiB of shared memory), and its weight gradient with C % 32 == 0 (TF32, 113 KiB); stride "
       "1 with C <= 4, S * C <= 32, R <= 9 and K % 64 == 0 on the narrow-C path, forward and (seen from "
       "dy, K <= 4 and C % 64 == 0) backward-data (TF32, 106 KiB), and its weight gradient with R * S * C <= "
       "256 and an aligned dy (TF32, up to 131 KiB); v4 (and its fallbacks) for the rest"},
      {ConvAlgo::v7_halo_tile_bf16, "v7_halo_tile_bf16", ConvMath::bf16, false,
       "v6's 3x3 halo paths in BF16 (the same shapes) and its tail and narrow-C paths (TF32); v5 (and its "
       "fallbacks) for the rest"},
      {ConvAlgo::v8_halo_wgmma_tf32, "v8_halo_wgmma_tf32", ConvMath::tf32, false,
       "on a device of compute capability 9.0, 3x3 stride-1 forward and backward-data with 64 gathered "
       "channels into a multiple of 64 (SRResNet's body and upsampling, VGG's conv1_2 and conv2_1, D's 64->128; "
       "16-byte aligned activations and weights; 226 KiB of shared memory) "
       "on wgmma (TF32) fed by the bulk tensor copy engine; v6 (and its fallbacks) for the rest, and "
       "everywhere on other devices"},
      {ConvAlgo::cudnn, "cudnn", ConvMath::fp32, true, "every shape cuDNN supports"},
  };
  return v;
}

const char* conv_math_name(ConvMath m) {
  switch (m) {
    case ConvMath::fp32: return "fp32";
    case ConvMath::tf32: return "tf32";
    case ConvMath::bf16: return "bf16";
  }
  return "unknown";
}

ConvAlgo default_conv_algo(ConvMath math) {
  switch (math) {
    case ConvMath::tf32: return ConvAlgo::v6_halo_tile_tf32;
    case ConvMath::bf16: return ConvAlgo::v7_halo_tile_bf16;
    case ConvMath::fp32: break;
  }
  return ConvAlgo::v2_smem_tiled;
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
