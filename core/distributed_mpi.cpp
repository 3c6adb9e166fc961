// ProcessGroup over MPI (see core/distributed.h): MPI is initialised when the group is first used
// in a process started by an MPI launcher, and finalized at exit.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/check.h"
#include "core/distributed.h"

namespace srgan {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, size_t(len)));
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// Sums `n` elements of `data` over all ranks so that every rank gets the same bits: each rank
// reduces one slice of the buffer alone (reduce-scatter), then every slice is gathered on every
// rank. (MPI_Allreduce may sum in a different order on different ranks, and one ulp of
// difference would make the optimizers' states drift apart.) In place, no copy of the buffer.
template <typename T>
void sum_identical(T* data, int64_t n, MPI_Datatype type, int size, int rank) {
  constexpr int64_t kMaxSlice = INT_MAX / 2;  // MPI counts are ints: pieces of at most size * kMaxSlice
  for (int64_t done = 0; done < n;) {
    const int64_t piece = std::min(n - done, kMaxSlice * size);
    std::vector<int> counts(static_cast<size_t>(size)), offsets(static_cast<size_t>(size));
    for (int r = 0; r < size; ++r) {  // slices as equal as can be, in rank order
      offsets[size_t(r)] = int(piece * r / size);
      counts[size_t(r)] = int(piece * (r + 1) / size) - offsets[size_t(r)];
    }
    T* p = data + done;
    std::vector<T> mine(static_cast<size_t>(std::max(counts[size_t(rank)], 1)));
    check(MPI_Reduce_scatter(p, mine.data(), counts.data(), type, MPI_SUM, MPI_COMM_WORLD), "MPI_Reduce_scatter");
    check(MPI_Allgatherv(mine.data(), counts[size_t(rank)], type, p, counts.data(), offsets.data(), type, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    done += piece;
  }
}

}  // namespace

ProcessGroup::ProcessGroup() {
  if (launcher_world_size() == 0) return;  // not started by a launcher: one process, no MPI
  launched_ = true;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
  }
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

void ProcessGroup::sum_host(void* data, int64_t n, DType dtype) {
  if (dtype == DType::f32) sum_identical(static_cast<float*>(data), n, MPI_FLOAT, size_, rank_);
  else sum_identical(static_cast<double*>(data), n, MPI_DOUBLE, size_, rank_);
}

std::vector<double> ProcessGroup::all_gather(double value) {
  std::vector<double> all(size_t(size_), value);
  if (launched_) check(MPI_Allgather(&value, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD), "MPI_Allgather");
  return all;
}

void ProcessGroup::abort(const std::string& message) {
  std::fprintf(stderr, "srgan (rank %d of %d): %s\n", rank_, size_, message.c_str());
  std::fflush(stderr);
  if (launched_) MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

}  // namespace srgan
