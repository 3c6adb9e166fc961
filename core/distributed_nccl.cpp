// CUDA tensors in a ProcessGroup with NCCL (see core/distributed.h): ncclAllReduce on the
// current stream, so it orders with the backward kernels before it and Adam after it without a
// host wait, and can be captured in a CUDA graph. The communicator is made on first use: rank 0
// creates the NCCL id, MPI broadcasts it, every rank binds it to its device.
// NCCL sums with a ring or tree in which each element is reduced once, so every rank gets the
// same bits. NCCL cannot put two ranks on one GPU (tools/scripts/gpu_check.sh runs one rank).
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <string>

#include "core/check.h"
#include "core/device.h"
#include "core/distributed.h"

namespace srgan {
namespace {
void check(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess) throw Error(std::string("NCCL: ") + what + " failed: " + ncclGetErrorString(rc));
}
}  // namespace

void ProcessGroup::all_reduce_device(const Tensor& t) {
  if (!nccl_) {
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    if (MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
      throw Error("MPI: broadcasting the NCCL id failed");
    ncclComm_t comm = nullptr;
    check(ncclCommInitRank(&comm, size_, id, rank_), "ncclCommInitRank");
    nccl_ = comm;
  }
  const ncclDataType_t type = t.dtype() == DType::f32 ? ncclFloat32 : ncclFloat64;
  check(ncclAllReduce(t.raw(), t.raw(), size_t(t.numel()), type, ncclSum, static_cast<ncclComm_t>(nccl_),
                      reinterpret_cast<cudaStream_t>(current_stream())),
        "ncclAllReduce");
}

}  // namespace srgan
