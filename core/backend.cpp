// The process-wide kernel selection.
#include "core/backend.h"

#include <algorithm>
#include <thread>

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
std::string cpu_gemm_library() { return kern::gemm_cpu_library(); }
std::string cpu_gemm_better_core() { return kern::gemm_cpu_better_core(); }
}  // namespace srgan
