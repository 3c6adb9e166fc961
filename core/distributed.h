// Data parallelism across processes: the ranks of `mpirun -np N srgan train` (Open MPI starts and
// connects them, on one machine or many) and the collectives training needs. Gradients of CPU
// tensors are summed with MPI_Allreduce in place; gradients of CUDA tensors with ncclAllReduce on
// the current stream (the NCCL communicator is set up with an id broadcast over MPI), so the
// reduction can sit inside a captured CUDA graph. A process not started by mpirun is rank 0 of 1
// and every collective returns at once.
//
// Built with MPI when CMake finds it (distributed_mpi.cpp; distributed_nompi.cpp otherwise, which
// refuses to run as one of several ranks) and with NCCL when CUDA and NCCL are found
// (distributed_nccl.cpp; otherwise CUDA tensors are reduced through host memory, correct and slow).
// Every collective must be called by every rank, in the same order, with the same sizes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace srgan {

class ProcessGroup {
 public:
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among the ranks on this machine
  int local_size() const { return local_size_; }
  bool distributed() const { return size_ > 1; }
  // Started by an MPI launcher, even as its only rank: the collectives really run (through MPI
  // and NCCL), which is how one GPU checks the NCCL path (`mpirun -np 1`).
  bool launched() const { return launched_; }

  // t (CPU or CUDA, f32 or f64, contiguous) becomes the element-wise sum over all ranks.
  void all_reduce_sum(const Tensor& t);
  // The same for host doubles (loss values, flags, checksums).
  void all_reduce_sum(std::vector<double>& values);
  // Each rank's value, in rank order, on every rank.
  std::vector<double> all_gather(double value);
  // Ends every rank of the job at once (MPI_Abort) after printing `message` for this rank. A rank
  // that fails alone would otherwise leave the others waiting in their next collective.
  [[noreturn]] void abort(const std::string& message);

  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

 private:
  friend ProcessGroup& process_group();
  ProcessGroup();
  void sum_host(void* data, int64_t n, DType dtype);  // MPI, in place (distributed_mpi.cpp)
  void all_reduce_device(const Tensor& t);            // NCCL (distributed_nccl.cpp) or via the host

  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool launched_ = false;
  void* nccl_ = nullptr;  // ncclComm_t, created on first use
};

// The process's group: initialises MPI on first use when the process was started by mpirun (or
// another MPI launcher). Throws, naming what is missing, when started as one of several ranks by
// a build without MPI.
ProcessGroup& process_group();

// How many ranks the launcher says this job has (from its environment: OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, PMIX_SIZE...), 0 when not started by one. Does not initialise anything.
int launcher_world_size();

// Synchronised batch norm (--sync-bn): while a group is set, batch_norm in training mode reduces
// its per-channel sums over all ranks in forward and backward, so the statistics are those of the
// global batch. Null (the default): per-rank statistics, as PyTorch's DDP.
void set_batch_norm_group(ProcessGroup* group);
ProcessGroup* batch_norm_group();

}  // namespace srgan
