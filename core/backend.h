// Run-time choice of kernel variants (which conv/GEMM/BN implementation the ops call), shared
// by the whole process. CPU convolutions use Winograd F(4x4, 3x3) where it applies and im2col +
// OpenBLAS elsewhere, unless cpu_conv says otherwise.
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
  kern::CpuConvAlgo cpu_conv = kern::CpuConvAlgo::winograd_f4;
  // Eval-mode models with autograd off run convolution [+ batch norm] [+ PReLU] [+ residual add]
  // as one conv2d_fused_eval (core/ops.h), the batch norm folded into the convolution; off: layer
  // by layer (tests compare the two).
  bool fuse_inference = true;
};

BackendConfig& backend();
// The CUDA kernels behind a precision name (`--precision` of train, upscale and bench steps):
// "fp32" = our smem-tiled conv and fp32 GEMM on the CUDA cores (the default, as PyTorch's fp32);
// "tf32" = the TF32 tensor-core conv that is fastest by the H100 estimate of `srgan bench counters`
// (kern::default_conv_algo(ConvMath::tf32), v6) and the TF32 mma GEMM; "bf16" = the BF16 conv (v7,
// v5 where v7 does not apply: bf16 multiplies, fp32 accumulation, tensors and weights still fp32 in
// memory) and the TF32 GEMM.
// The CPU path always computes in fp32.
void set_cuda_precision(const std::string& name);
// Whether `name` is a precision set_cuda_precision knows (fp32, tf32, bf16).
bool is_precision_name(const std::string& name);
// Throws, naming the choices, unless is_precision_name(name).
void check_precision_name(const std::string& name);
// Threads for the CPU path's GEMMs and its other loops (n <= 0: all cores). More threads than
// cores only slow the work down (thousands fail to start), so n is capped at the core count;
// returns the number in use (callers say so when it is less than asked for).
int set_cpu_threads(int n);
// The CPU GEMM library and kernel set in use, e.g. "OpenBLAS (Cooperlake kernels)".
std::string cpu_gemm_library();
// kern::gemm_cpu_better_core(): an OPENBLAS_CORETYPE for a CPU that OpenBLAS did not recognise, or "".
std::string cpu_gemm_better_core();

}  // namespace srgan
