// The process-wide kernel selection.
#include "core/backend.h"

#include <algorithm>
#include <thread>

#include "core/check.h"
#include "kernels/cpu_parallel.h"

namespace srgan {
BackendConfig& backend() {
  static BackendConfig config;
  return config;
}
int set_cpu_threads(int n) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int used = n <= 0 ? cores : std::min(n, cores);
  kern::gemm_cpu_set_threads(used);
  kern::cpu_set_threads(used);
  return used;
}
bool is_precision_name(const std::string& name) { return name == "fp32" || name == "tf32" || name == "bf16"; }
void check_precision_name(const std::string& name) {
  if (!is_precision_name(name))
    throw Error("--precision must be fp32, tf32 or bf16, got '" + name + "'");
}
void set_cuda_precision(const std::string& name) {
  check_precision_name(name);
  if (name == "fp32") {
    backend().conv_algo = kern::default_conv_algo(kern::ConvMath::fp32);
    backend().gemm_algo = kern::GemmAlgo::v1_smem_tiled;
  } else {
    backend().conv_algo = kern::default_conv_algo(name == "bf16" ? kern::ConvMath::bf16 : kern::ConvMath::tf32);
    backend().gemm_algo = kern::GemmAlgo::v2_tf32_mma;  // bf16 too: the GEMMs are a small share (docs/kernels.md)
  }
}
std::string cpu_gemm_library() { return kern::gemm_cpu_library(); }
std::string cpu_gemm_better_core() { return kern::gemm_cpu_better_core(); }
}  // namespace srgan
