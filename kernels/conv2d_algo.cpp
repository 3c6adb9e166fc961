// Names of the convolution algorithms (compiled in every build, so CPU-only tools can print them).
#include "kernels/conv2d.h"

namespace srgan::kern {

const char* conv_algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::v1_direct: return "v1_direct";
    case ConvAlgo::v2_smem_tiled: return "v2_smem_tiled";
    case ConvAlgo::v3_implicit_gemm_tf32: return "v3_implicit_gemm_tf32";
    case ConvAlgo::cudnn: return "cudnn";
  }
  return "unknown";
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
