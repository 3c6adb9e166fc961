// CUDA tensors in a ProcessGroup without NCCL (see core/distributed.h): summed through host
// memory with MPI. Correct and slow; builds with CUDA and NCCL use distributed_nccl.cpp.
#include "core/distributed.h"

namespace srgan {

void ProcessGroup::all_reduce_device(const Tensor& t) {
  Tensor host = t.to(Device::cpu);  // waits for the stream: the gradients are complete
  sum_host(host.raw(), host.numel(), host.dtype());
  Tensor(t).copy_from(host);
}

}  // namespace srgan
