// The parts of core/distributed.h every build has: what the launcher's environment says, the
// dispatch of reductions by device, and the batch-norm group setting.
#include "core/distributed.h"

#include <cstdlib>
#include <string>

#include "core/check.h"

namespace srgan {
namespace {
ProcessGroup* g_batch_norm_group = nullptr;
}  // namespace

int launcher_world_size() {
  // Open MPI, MPICH/Hydra (PMI), PMIx-based launchers and Slurm's srun, in that order.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    const char* v = std::getenv(name);
    if (v && *v) {
      const long n = std::strtol(v, nullptr, 10);
      if (n >= 1 && n < (1L << 24)) return int(n);
    }
  }
  return 0;
}

void ProcessGroup::all_reduce_sum(const Tensor& t) {
  if (!launched_ || t.numel() == 0) return;
  if (t.is_cuda()) return all_reduce_device(t);
  sum_host(t.raw(), t.numel(), t.dtype());
}

void ProcessGroup::all_reduce_sum(std::vector<double>& values) {
  if (!launched_ || values.empty()) return;
  sum_host(values.data(), int64_t(values.size()), DType::f64);
}

ProcessGroup& process_group() {
  static ProcessGroup* group = new ProcessGroup();  // never destroyed: MPI is finalized at exit
  return *group;
}

void set_batch_norm_group(ProcessGroup* group) { g_batch_norm_group = group; }
ProcessGroup* batch_norm_group() { return g_batch_norm_group; }

}  // namespace srgan
