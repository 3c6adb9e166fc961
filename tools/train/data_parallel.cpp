// DataParallel (see data_parallel.h).
#include "tools/train/data_parallel.h"

#include <chrono>
#include <cstring>
#include <functional>
#include <sstream>

#include "core/autograd.h"
#include "core/check.h"
#include "core/ops.h"

namespace srgan::app {

DataParallel::DataParallel(ProcessGroup& group, int accum) : group_(group), accum_(accum) {
  if (accum < 1) throw Error("--accum must be >= 1, got " + std::to_string(accum));
}

Accumulation DataParallel::accumulation() const {
  Accumulation acc;
  acc.micro = accum_;
  if (group_.launched()) {
    ProcessGroup* g = &group_;
    const double mean = 1.0 / (double(accum_) * g->size());
    std::shared_ptr<double> seconds = reduce_seconds_;
    acc.reduce = [g, mean, seconds](const Tensor& grads) {
      const auto t0 = std::chrono::steady_clock::now();
      g->all_reduce_sum(grads);  // the same bits on every rank (core/distributed.h)
      Tensor t = grads;
      scale_(t, mean);
      *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
  }
  return acc;
}

bool DataParallel::any(bool mine) {
  if (!group_.launched()) return mine;
  std::vector<double> flag{mine ? 1.0 : 0.0};
  group_.all_reduce_sum(flag);
  return flag[0] > 0;
}

void DataParallel::mean_over_ranks(std::vector<double>& values) {
  if (!group_.launched()) return;
  group_.all_reduce_sum(values);
  for (double& v : values) v /= group_.size();
}

void DataParallel::check_same_options(const std::string& options) {
  if (!group_.launched()) return;
  const double mine = double(std::hash<std::string>{}(options) & ((uint64_t(1) << 52) - 1));  // exact in a double
  const std::vector<double> all = group_.all_gather(mine);
  std::ostringstream differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ << " " << r;
  if (!differ.str().empty())
    throw Error("ranks were started with different options (rank(s)" + differ.str() + " differ from rank 0); every "
                "rank of `mpirun -np N srgan train` must be given the same options");
}

void DataParallel::average(const std::vector<Tensor>& buffers) {
  if (!group_.launched()) return;
  for (const Tensor& b : buffers) {
    group_.all_reduce_sum(b);
    Tensor t = b;
    scale_(t, 1.0 / group_.size());
  }
}

void DataParallel::check_identical(int64_t step, const std::vector<Tensor>& state) {
  if (!group_.launched()) return;
  double checksum = 0;
  {
    NoGradGuard ng;
    for (const Tensor& t : state) checksum += sum(t).item();
  }
  const std::vector<double> all = group_.all_gather(checksum);
  std::ostringstream differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (std::memcmp(&all[r], &all[0], sizeof(double)) != 0) differ << " rank " << r << " (" << all[r] << ")";
  if (!differ.str().empty()) {
    std::ostringstream os;
    os.precision(17);
    os << "the ranks' weights and optimizer states have drifted apart by step " << step << ": rank 0's checksum is "
       << all[0] << ", different on" << differ.str() << "; stopping (the last checkpoint is intact)";
    throw Error(os.str());
  }
}

}  // namespace srgan::app
