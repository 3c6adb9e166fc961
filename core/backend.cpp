// The process-wide kernel selection.
#include "core/backend.h"

#include "kernels/cpu_parallel.h"

namespace srgan {
BackendConfig& backend() {
  static BackendConfig config;
  return config;
}
void set_cpu_threads(int n) {
  kern::gemm_cpu_set_threads(n);
  kern::cpu_set_threads(n);
}
std::string cpu_gemm_library() { return kern::gemm_cpu_library(); }
}  // namespace srgan
