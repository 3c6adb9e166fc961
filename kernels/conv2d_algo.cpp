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

}  // namespace srgan::kern
