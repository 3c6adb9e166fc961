// ProcessGroup in a build without MPI (see core/distributed.h): always rank 0 of 1. Started by
// mpirun as one of several ranks, it refuses, naming what is missing, rather than have every rank
// train alone and write the same files.
#include <cstdio>
#include <cstdlib>

#include "core/check.h"
#include "core/distributed.h"

namespace srgan {

ProcessGroup::ProcessGroup() {
  const int n = launcher_world_size();
  if (n > 1)
    throw Error("started by an MPI launcher as one of " + std::to_string(n) + " ranks, but this build of srgan has no "
                "MPI: install Open MPI (Debian: apt-get install libopenmpi-dev openmpi-bin) and rebuild "
                "(tools/scripts/build.sh), or run srgan without mpirun");
}

void ProcessGroup::sum_host(void*, int64_t, DType) {}  // one rank: the sum is the value

std::vector<double> ProcessGroup::all_gather(double value) { return {value}; }

void ProcessGroup::abort(const std::string& message) {
  std::fprintf(stderr, "srgan: %s\n", message.c_str());
  std::exit(1);
}

}  // namespace srgan
