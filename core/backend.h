// Run-time choice of kernel variants (which conv/GEMM/BN implementation the ops call), shared
// by the whole process. The CPU path uses im2col + OpenBLAS unless cpu_reference is set.
#pragma once
#include <string>

#include "kernels/batchnorm.h"
#include "kernels/conv2d.h"
#include "kernels/gemm.h"

namespace srgan {

struct BackendConfig {
  kern::ConvAlgo conv_algo = kern::ConvAlgo::v2_smem_tiled;
  kern::GemmAlgo gemm_algo = kern::GemmAlgo::v1_smem_tiled;
  kern::BatchNormAlgo bn_algo = kern::BatchNormAlgo::v1_two_pass;
  bool cpu_reference = false;  // CPU convolutions through the plain-loop reference (slow, exact)
};

BackendConfig& backend();
// Threads for the CPU path's GEMMs and its other loops (n <= 0: all cores).
void set_cpu_threads(int n);
// The CPU GEMM library and kernel set in use, e.g. "OpenBLAS (Cooperlake kernels)".
std::string cpu_gemm_library();

}  // namespace srgan
