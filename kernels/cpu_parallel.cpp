// The fork-join pool behind parallel_for (see cpu_parallel.h): workers sleep on a condition
// variable between jobs (so they never compete with OpenBLAS's threads while a GEMM runs), take
// chunk i of the current job, and the caller waits until every chunk has finished. An exception
// thrown by any chunk (std::bad_alloc from a chunk's scratch, say) is held until every chunk has
// finished, then rethrown on the calling thread: the job's captures stay alive while workers use
// them, and the pool stays usable.
#include "kernels/cpu_parallel.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace srgan::kern {
namespace {

class Pool {  // lives until the process exits (see pool())
 public:
  int threads() {
    std::lock_guard<std::mutex> lock(owner_);
    return int(workers_.size()) + 1;
  }

  void resize(int n) {
    std::lock_guard<std::mutex> lock(owner_);
    if (int(workers_.size()) + 1 == std::max(n, 1)) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    const uint64_t now = generation_;  // new workers wait for the next job, not the stop just sent
    for (int i = 1; i < std::max(n, 1); ++i) workers_.emplace_back([this, i, now] { work(i, now); });
  }

  // False when the pool is busy (another thread's job): the caller then runs inline.
  bool run(int64_t n, const std::function<void(int64_t, int64_t)>& f) {
    std::unique_lock<std::mutex> own(owner_, std::try_to_lock);
    if (!own.owns_lock() || workers_.empty()) return false;
    const int chunks = int(workers_.size()) + 1;
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = &f;
      n_ = n;
      chunks_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    cv_.notify_all();
    run_chunk(f, 0, chunk_end(0));
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> l(mu_);
      done_cv_.wait(l, [this] { return pending_ == 0; });
      job_ = nullptr;
      std::swap(error, error_);
    }
    if (error) std::rethrow_exception(error);
    return true;
  }

  static thread_local bool in_job;

 private:
  int64_t chunk_end(int i) const { return n_ * (i + 1) / chunks_; }

  // Runs one chunk; an exception is kept (the first one wins) for run() to rethrow.
  void run_chunk(const std::function<void(int64_t, int64_t)>& f, int64_t begin, int64_t end) {
    in_job = true;
    try {
      f(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> l(mu_);
      if (!error_) error_ = std::current_exception();
    }
    in_job = false;
  }

  void work(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int64_t, int64_t)>* job;
      int64_t begin, end;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        job = job_;
        begin = n_ * index / chunks_;
        end = chunk_end(index);
      }
      run_chunk(*job, begin, end);
      {
        std::lock_guard<std::mutex> l(mu_);
        --pending_;
      }
      done_cv_.notify_one();
    }
  }

  std::mutex owner_;  // held by the thread whose job is running (and by resize)
  std::mutex mu_;     // guards the job fields below
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 1;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;  // the first exception of the current job's chunks
};
thread_local bool Pool::in_job = false;

int hardware_threads() { return std::max(1, int(std::thread::hardware_concurrency())); }

Pool& pool() {
  static Pool* p = [] {
    auto* q = new Pool();  // never destroyed: worker threads must not be joined during exit
    q->resize(hardware_threads());
    return q;
  }();
  return *p;
}

}  // namespace

void cpu_set_threads(int n) { pool().resize(n > 0 ? n : hardware_threads()); }
int cpu_threads() { return pool().threads(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  if (n < 2 * std::max<int64_t>(grain, 1) || Pool::in_job || !pool().run(n, f)) f(0, n);
}

void parallel_blocks(int64_t n, int64_t block_size, const std::function<void(int64_t, int64_t, int64_t)>& f) {
  const int64_t blocks = block_count(n, block_size);
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) f(b, b * block_size, std::min(n, (b + 1) * block_size));
  });
}

}  // namespace srgan::kern
