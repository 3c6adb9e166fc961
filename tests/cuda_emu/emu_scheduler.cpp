// The CUDA emulator's scheduler (see cuda_emu.h): every CUDA thread of a block is a fiber with
// its own stack; the fibers take turns until they reach __syncthreads, a warp collective or the
// end of the kernel. Blocks run one after another on a pool of host threads. Also here: the warp
// exchange behind shuffles and mma, and the per-thread cp.async queues.
// A switch between stacks is emu_context.h's context_switch.
#include "tests/cuda_emu/cuda_emu.h"  // first: it defines __shared__ before the CUDA headers do

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/cuda_emu/emu_context.h"
#include "tests/cuda_emu/emu_internal.h"

thread_local uint3 threadIdx{};
thread_local uint3 blockIdx{};
thread_local dim3 blockDim{};
thread_local dim3 gridDim{};

namespace srgan::emu {
namespace {

// AddressSanitizer must be told about every switch between stacks (a build with
// -fsanitize=address then also catches a kernel reading or writing outside its buffers).
void asan_start_switch(void** fake_stack, const void* bottom, size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
#else
  (void)fake_stack, (void)bottom, (void)size;
#endif
}
// A stack a faulting kernel abandoned keeps its frames' poison (nothing unwound them): cleared
// before a fiber starts on it again.
void asan_unpoison(void* p, size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(p, bytes);
#else
  (void)p, (void)bytes;
#endif
}
void asan_finish_switch(void* fake_stack, const void** old_bottom, size_t* old_size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(fake_stack, old_bottom, old_size);
#else
  (void)fake_stack, (void)old_bottom, (void)old_size;
#endif
}

// ---- fibers ----------------------------------------------------------------------------------

enum class State { ready, at_syncthreads, at_warp, done };

struct CpCopy {
  void* dst;
  const void* src;
  int bytes, src_bytes;
};

struct Fiber {  // kept small: the scheduler walks all of a block's fibers between two switches
  StackContext ctx;  // where it resumes
  void* asan_fake_stack = nullptr;
  bool started = false;
  uint3 tid;
  int linear = 0;
  State st = State::ready;
  unsigned warp_mask = 0;   // mask of the warp collective it waits in
  size_t warp_bytes = 0;
  unsigned warp_gen = 0;    // collectives entered so far (selects the exchange buffer)
  std::vector<CpCopy> open;                // cp.async not yet committed
  std::deque<std::vector<CpCopy>> groups;  // committed, oldest first
};

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kSlotBytes = kWarpSlotBytes;

// The order in which a block's threads run between two barriers. `mixed` (the default) runs each
// kernel's launches forward and reversed in turn (its 1st, 3rd, ... launch forward, its 2nd, 4th,
// ... reversed; counted per kernel, so a kernel that a test always launches at an even position
// among all launches still meets both), and every kernel launched twice meets both orders;
// `alternate` flips the order at every barrier of a block. forward / reverse fix one order for
// the whole run (ctest label emu_orders runs every emulated test in each).
enum class Order { forward, reverse, alternate, mixed };

Order order_from_env() {
  const char* e = std::getenv("SRGAN_EMU_ORDER");
  if (!e || !*e || std::string(e) == "mixed") return Order::mixed;
  if (std::string(e) == "forward") return Order::forward;
  if (std::string(e) == "reverse") return Order::reverse;
  if (std::string(e) == "alternate") return Order::alternate;
  std::fprintf(stderr, "[cuda emulator] SRGAN_EMU_ORDER=%s is not mixed|forward|reverse|alternate\n", e);
  std::exit(2);
}

// Runs blocks on the host thread that owns it. One per host thread.
class BlockRunner {
 public:
  ~BlockRunner() {
    for (char* s : stacks_) std::free(s);
  }

  // Runs one block; returns false (with error_) on a fault. The fibers persist from block to
  // block: each loops over "run the kernel body, report done", so a block costs two switches
  // per thread; a fault abandons the fibers' stacks, and they are started afresh.
  bool run(const std::function<void()>& body, dim3 block, Order order, size_t smem) {
    const int n = int(block.x * block.y * block.z);
    body_ = &body;
    error_.clear();
    ++block_serial_;
    smem_bytes_ = smem;
    smem_checked_ = smem <= 48 * 1024;
    counters_block_begin(n);
    if (smem > 0) {
      if (dyn_smem_.size() < smem + 128) dyn_smem_.resize(smem + 128);
      std::memset(dyn_smem_ptr(), 0xFF, smem);
      counters_shared_range(dyn_smem_ptr(), smem);
    }
    while (int(stacks_.size()) < n) {
      char* s = static_cast<char*>(std::malloc(kStackBytes));
      if (!s) { error_ = "out of host memory for thread stacks"; return false; }
      stacks_.push_back(s);
    }
    if (fibers_.size() < size_t(n)) fibers_.resize(size_t(n));
    if (!cur_) cur_ = &fibers_[0];
    n_ = n;
    // Every lane writes its slot before any lane of its mask reads it: no zeroing needed.
    const size_t xbytes = size_t((n + 31) / 32) * 2 * 32 * kSlotBytes;
    if (xbuf_.size() < xbytes) xbuf_.resize(xbytes);
    for (int i = 0; i < n; ++i) {
      Fiber& f = fibers_[size_t(i)];
      f.linear = i;
      f.tid = uint3{unsigned(i % int(block.x)), unsigned((i / int(block.x)) % int(block.y)),
                    unsigned(i / int(block.x * block.y))};
      f.st = State::ready;
      f.warp_gen = 0;
      f.open.clear();
      f.groups.clear();
    }
    int phase = 0;
    for (;;) {
      const bool rev = order == Order::reverse || (order == Order::alternate && (phase & 1));
      for (int k = 0; k < n; ++k) {
        const int i = rev ? n - 1 - k : k;
        Fiber& f = fibers_[size_t(i)];
        if (f.st != State::ready) continue;
        cur_ = &f;
        threadIdx = f.tid;
        resume(f);
        if (!error_.empty()) {
          for (Fiber& g : fibers_) g.started = false;  // abandon every stack mid-kernel
          counters_block_end();
          return false;
        }
      }
      // Every thread now waits at a barrier or has exited.
      counters_flush();
      if (release_warps()) continue;
      if (error_.empty()) {
        int done = 0, waiting = 0;
        for (int i = 0; i < n; ++i) {
          if (fibers_[size_t(i)].st == State::done) ++done;
          if (fibers_[size_t(i)].st == State::at_syncthreads) ++waiting;
        }
        if (done == n) {
          counters_block_end();
          return true;
        }
        if (waiting + done == n && done == 0) {
          for (int i = 0; i < n; ++i) fibers_[size_t(i)].st = State::ready;
          ++phase;
          continue;
        }
        if (waiting + done == n)
          error_ = std::to_string(done) + " of " + std::to_string(n) +
                   " threads exited while the others wait at __syncthreads (barrier divergence)";
        else
          error_ = "deadlock: threads wait at __syncthreads while lanes of their warps wait in a warp collective";
      }
      for (Fiber& g : fibers_) g.started = false;
      counters_block_end();
      return false;
    }
  }

  void* dyn_smem_ptr() {
    const uintptr_t p = reinterpret_cast<uintptr_t>(dyn_smem_.data());
    return reinterpret_cast<void*>((p + 127) & ~uintptr_t(127));
  }
  size_t smem_bytes() const { return smem_bytes_; }
  uint64_t serial() const { return block_serial_; }
  // The first thread of a block to start checks a dynamic shared-memory request above 48 KiB
  // against cudaFuncSetAttribute's limit for this kernel.
  bool smem_checked_ = true;

  const std::string& error() const { return error_; }
  Fiber& current() { return *cur_; }

  // Suspends the calling fiber in state s until the scheduler releases it.
  void suspend(State s) {
    Fiber& f = current();
    f.st = s;
    asan_start_switch(&f.asan_fake_stack, sched_bottom_, sched_size_);
    context_switch(f.ctx, sched_ctx_);  // returns when the scheduler resumes f
    asan_finish_switch(f.asan_fake_stack, &sched_bottom_, &sched_size_);
  }

  // Poisons a __shared__ variable the first time this block reaches its declaration.
  void fresh_shared(void* p, size_t bytes) {
    uint64_t& seen = shared_seen_[p];
    if (seen == block_serial_) return;
    seen = block_serial_;
    std::memset(p, 0xFF, bytes);
    counters_shared_range(p, bytes);
  }

  unsigned char* slot(int warp, unsigned gen, int lane) {
    return &xbuf_[((size_t(warp) * 2 + (gen & 1u)) * 32 + size_t(lane)) * kSlotBytes];
  }

  void fault(const std::string& why) {  // called from a fiber: record and never resume it
    error_ = "thread (" + std::to_string(current().tid.x) + "," + std::to_string(current().tid.y) + "," +
             std::to_string(current().tid.z) + "): " + why;
    asan_start_switch(nullptr, sched_bottom_, sched_size_);  // nullptr: this stack is abandoned
    StackContext abandoned;
    context_switch(abandoned, sched_ctx_);  // never resumed: the scheduler abandons the block
  }

 private:
  static void fiber_main();

  // Runs fiber f until it suspends or finishes the block's body.
  void resume(Fiber& f) {
    if (!f.started) {
      // Stacks are 256 KiB apart, so their tops, where each fiber's frames live, would all fall
      // in the same cache sets; starting each a different number of cache lines below its top
      // spreads the fibers' frames over the sets.
      f.started = true;
      asan_unpoison(stacks_[size_t(f.linear)], kStackBytes);
      context_start(f.ctx, stacks_[size_t(f.linear)], kStackBytes - size_t(f.linear % 64) * 1088,
                    &BlockRunner::fiber_main);
    }
    asan_start_switch(&sched_fake_stack_, stacks_[size_t(f.linear)], kStackBytes);
    context_switch(sched_ctx_, f.ctx);  // returns when the fiber suspends or faults
    asan_finish_switch(sched_fake_stack_, nullptr, nullptr);
  }

  // Releases every warp whose collective is complete. Records an error for one that can never
  // complete (a named lane exited, or the lanes disagree on the mask or size).
  bool release_warps() {
    bool released = false;
    const int n = n_;
    for (int w0 = 0; w0 < n; w0 += 32) {
      int first = -1;
      for (int i = w0; i < std::min(n, w0 + 32); ++i)
        if (fibers_[size_t(i)].st == State::at_warp) { first = i; break; }
      if (first < 0) continue;
      const unsigned mask = fibers_[size_t(first)].warp_mask;
      const size_t bytes = fibers_[size_t(first)].warp_bytes;
      bool complete = true;
      for (int l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        const int i = w0 + l;
        if (i >= n) {
          error_ = "warp collective names lane " + std::to_string(l) + " of warp " + std::to_string(w0 / 32) +
                   ", which does not exist (block of " + std::to_string(n) + " threads)";
          return false;
        }
        const Fiber& f = fibers_[size_t(i)];
        if (f.st == State::done) {
          error_ = "warp collective names lane " + std::to_string(l) + " of warp " + std::to_string(w0 / 32) +
                   ", which has exited";
          return false;
        }
        if (f.st != State::at_warp) { complete = false; continue; }
        if (f.warp_mask != mask || f.warp_bytes != bytes) {
          error_ = "lanes of warp " + std::to_string(w0 / 32) + " disagree on a collective's mask or size";
          return false;
        }
      }
      if (!complete) continue;
      for (int l = 0; l < 32; ++l)
        if (mask >> l & 1u) fibers_[size_t(w0 + l)].st = State::ready;
      released = true;
    }
    return released;
  }

  std::vector<char*> stacks_;
  std::vector<char> dyn_smem_;  // the launch's dynamic shared memory (aligned inside)
  size_t smem_bytes_ = 0;
  std::deque<Fiber> fibers_;  // a deque: growing it keeps suspended fibers where they are
  std::vector<unsigned char> xbuf_;  // [warp][2][32 lanes][kSlotBytes]
  uint64_t block_serial_ = 0;        // blocks run so far by this runner
  std::unordered_map<void*, uint64_t> shared_seen_;  // __shared__ variable -> block that last poisoned it
  StackContext sched_ctx_;  // the scheduler's, while a fiber runs
  void* sched_fake_stack_ = nullptr;
  const void* sched_bottom_ = nullptr;  // the scheduler's stack, for AddressSanitizer
  size_t sched_size_ = 0;
  int n_ = 0;  // threads of the current block (fibers_ may hold more, from earlier blocks)
  Fiber* cur_ = nullptr;  // the fiber running now (set before each resume; fibers_ never moves it)
  const std::function<void()>* body_ = nullptr;
  std::string error_;
};

thread_local BlockRunner* tl_runner = nullptr;

BlockRunner& runner_in_kernel(const char* what) {
  if (!tl_runner) {
    std::fprintf(stderr, "[cuda emulator] %s called outside a kernel\n", what);
    std::abort();
  }
  return *tl_runner;
}

void perform(const std::vector<CpCopy>& group) {
  for (const CpCopy& c : group) {
    if (c.src_bytes > 0) std::memcpy(c.dst, c.src, size_t(c.src_bytes));
    if (c.bytes > c.src_bytes) std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, size_t(c.bytes - c.src_bytes));
  }
}

void BlockRunner::fiber_main() {
  asan_finish_switch(nullptr, &tl_runner->sched_bottom_, &tl_runner->sched_size_);  // first entry
  for (;;) {  // one iteration per block
    BlockRunner& r = *tl_runner;
    Fiber& f = r.current();
    try {
      (*r.body_)();
    } catch (const std::exception& e) {
      r.error_ = std::string("exception inside the kernel: ") + e.what();
    } catch (...) {
      r.error_ = "exception inside the kernel";
    }
    // cp.async copies never waited for still land before the kernel ends.
    if (!f.open.empty()) f.groups.push_back(std::move(f.open));
    for (const auto& g : f.groups) perform(g);
    f.groups.clear();
    f.open.clear();
    r.suspend(State::done);
  }
}

// ---- the pool of host threads that run blocks ------------------------------------------------

class BlockPool {
 public:
  static BlockPool& get() {
    static BlockPool p;
    return p;
  }

  // Runs every block of the grid; returns "" or the first fault.
  std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block, size_t smem, int64_t max_blocks,
                       const std::string& kernel) {
    std::lock_guard<std::mutex> one_launch(launch_mu_);  // launches run one at a time
    const int64_t total = int64_t(grid.x) * grid.y * grid.z;
    job_ = Job{&body, grid, block, total,
               order_ != Order::mixed ? order_ : (launches_[kernel]++ % 2 ? Order::reverse : Order::forward), smem,
               max_blocks > 0 && max_blocks < total ? max_blocks : total};
    next_.store(0);
    failed_.store(false);
    fault_.clear();
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++generation_;
      busy_ = int(workers_.size());
    }
    cv_.notify_all();
    work();  // the launching thread works too
    std::unique_lock<std::mutex> lk(mu_);
    idle_cv_.wait(lk, [&] { return busy_ == 0; });
    return fault_;
  }

 private:
  struct Job {
    const std::function<void()>* body = nullptr;
    dim3 grid, block;
    int64_t blocks = 0;
    Order order = Order::forward;
    size_t smem = 0;
    int64_t run = 0;  // blocks to run: all, or a sample of them (counting)
  };

  // The taken-th block to run: all blocks in order, or `run` of them evenly spaced, the last
  // block always among them.
  int64_t block_of(int64_t taken) const {
    if (job_.run == job_.blocks) return taken;
    if (taken == job_.run - 1) return job_.blocks - 1;
    return taken * job_.blocks / job_.run;
  }

  BlockPool() {
    int n = int(std::thread::hardware_concurrency());
    if (const char* e = std::getenv("SRGAN_EMU_THREADS")) n = std::atoi(e);
    n = std::max(1, std::min(n, 16));
    order_ = order_from_env();
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker(); });
  }
  ~BlockPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void worker() {
    unsigned seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work();
      std::lock_guard<std::mutex> lk(mu_);
      if (--busy_ == 0) idle_cv_.notify_all();
    }
  }

  void work() {
    thread_local BlockRunner runner;
    tl_runner = &runner;
    blockDim = job_.block;
    gridDim = job_.grid;
    for (;;) {
      const int64_t taken = next_.fetch_add(1);
      if (taken >= job_.run || failed_.load()) break;
      // Blocks are taken last-first when the threads run in reverse: two blocks that write the
      // same element, or one that reads what another writes in the same launch (a race on a
      // GPU, where blocks run in any order), then give a different answer in one of the orders.
      const int64_t b = block_of(job_.order == Order::reverse ? job_.run - 1 - taken : taken);
      blockIdx = uint3{unsigned(b % job_.grid.x), unsigned((b / job_.grid.x) % job_.grid.y),
                       unsigned(b / (int64_t(job_.grid.x) * job_.grid.y))};
      if (!runner.run(*job_.body, job_.block, job_.order, job_.smem)) {
        std::lock_guard<std::mutex> lk(fault_mu_);
        if (!failed_.exchange(true))
          fault_ = "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
                   std::to_string(blockIdx.z) + ") " + runner.error();
      }
    }
    tl_runner = nullptr;
  }

  std::mutex launch_mu_, mu_, fault_mu_;
  std::condition_variable cv_, idle_cv_;
  std::vector<std::thread> workers_;
  unsigned generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  Order order_ = Order::mixed;
  std::unordered_map<std::string, uint64_t> launches_;  // launches of each kernel (Order::mixed)
  Job job_;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> failed_{false};
  std::string fault_;
};

}  // namespace

std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block, size_t smem, int64_t max_blocks,
                     const std::string& kernel) {
  return BlockPool::get().run_grid(body, grid, block, smem, max_blocks, kernel);
}

// ---- collectives and PTX ---------------------------------------------------------------------

void syncthreads() {
  BlockRunner& r = runner_in_kernel("__syncthreads");
  counters_note(WarpInstr::barrier);
  r.suspend(State::at_syncthreads);
}

int current_thread_linear() { return tl_runner ? tl_runner->current().linear : -1; }

void* dynamic_shared() {
  BlockRunner& r = runner_in_kernel("extern __shared__");
  return r.smem_bytes() ? r.dyn_smem_ptr() : nullptr;
}

void kernel_fault(const std::string& why) {
  runner_in_kernel("a faulting instruction").fault(why);
  std::abort();  // fault() never returns
}

uint64_t block_serial() { return runner_in_kernel("block_serial").serial(); }

size_t dynamic_shared_bytes() { return runner_in_kernel("extern __shared__").smem_bytes(); }

namespace {
std::mutex g_smem_attr_mu;
std::unordered_map<std::string, int> g_smem_attr;  // mangled kernel name -> bytes allowed
}  // namespace

void set_max_dynamic_smem(const std::string& mangled, int bytes) {
  std::lock_guard<std::mutex> lk(g_smem_attr_mu);
  g_smem_attr[mangled] = bytes;
}

std::string mangled_from_tag(const char* tag) {
  static const std::string suffix = "E12EmuKernelTag";
  const std::string t = tag ? tag : "";
  if (t.size() < 2 + suffix.size() || t[0] != 'Z' || t.compare(t.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  return "_" + t.substr(0, t.size() - suffix.size());
}

void kernel_entry(const char* tag) {
  BlockRunner& r = runner_in_kernel("a kernel");
  counters_kernel_name(tag);
  if (r.smem_checked_) return;
  r.smem_checked_ = true;
  const std::string name = mangled_from_tag(tag);
  int allowed = 48 * 1024;
  {
    std::lock_guard<std::mutex> lk(g_smem_attr_mu);
    auto it = g_smem_attr.find(name);
    if (it != g_smem_attr.end()) allowed = std::max(allowed, it->second);
  }
  if (r.smem_bytes() > size_t(allowed))
    r.fault("launched with " + std::to_string(r.smem_bytes()) + " bytes of dynamic shared memory, over the " +
            std::to_string(allowed) + " allowed: raise the limit with cudaFuncSetAttribute(kernel, "
            "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) first (too many resources requested for launch)");
}

void ldmatrix(uint32_t* r, int count, const void* row_addr) {
  BlockRunner& run = runner_in_kernel("ldmatrix");
  const int lane = lane_id();
  if (count != 1 && count != 2 && count != 4) run.fault("ldmatrix with " + std::to_string(count) + " matrices");
  if (lane < 8 * count) {
    if (reinterpret_cast<uintptr_t>(row_addr) % 16 != 0) run.fault("ldmatrix row address not 16-byte aligned");
    counters_record(MemKind::ldsm, __builtin_return_address(0), row_addr, 16);
  }
  counters_note(WarpInstr::ldmatrix);
  const unsigned char* slots = warp_exchange(0xffffffffu, &row_addr, sizeof row_addr);
  for (int i = 0; i < count; ++i) {
    const void* row;
    std::memcpy(&row, slots + size_t(8 * i + lane / 4) * kWarpSlotBytes, sizeof row);
    std::memcpy(&r[i], static_cast<const unsigned char*>(row) + 4 * (lane % 4), 4);
  }
}

void fresh_shared_bytes(void* p, size_t bytes) { runner_in_kernel("__shared__").fresh_shared(p, bytes); }

int lane_id() { return runner_in_kernel("lane_id").current().linear & 31; }

const unsigned char* warp_exchange(unsigned mask, const void* mine, size_t bytes) {
  BlockRunner& r = runner_in_kernel("a warp collective");
  Fiber& f = r.current();
  const int warp = f.linear / 32, lane = f.linear % 32;
  if (bytes > kSlotBytes) r.fault("warp collective of more than 64 bytes per lane");
  if (!(mask >> lane & 1u)) r.fault("warp collective called by a lane its mask leaves out");
  const unsigned gen = f.warp_gen++;
  std::memcpy(r.slot(warp, gen, lane), mine, bytes);
  f.warp_mask = mask;
  f.warp_bytes = bytes;
  r.suspend(State::at_warp);
  // Released: every lane of the mask has written its slot of this generation. The next
  // collective uses the other buffer, and no lane can reach the one after (which reuses this
  // buffer) before every lane has arrived at the next, so these slots stay intact until the
  // caller's next collective.
  return r.slot(warp, gen, 0);
}

void check_vector_access(const void* p, int bytes, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % unsigned(bytes) == 0) return;
  char addr[32];
  std::snprintf(addr, sizeof addr, "%p", p);
  runner_in_kernel(what).fault(std::string("misaligned ") + what + " of " + std::to_string(bytes) + " bytes at " + addr);
}

void cp_async(void* dst, const void* src, int bytes, int src_bytes) {
  BlockRunner& r = runner_in_kernel("cp.async");
  if (bytes != 4 && bytes != 8 && bytes != 16) r.fault("cp.async of " + std::to_string(bytes) + " bytes");
  if (src_bytes < 0 || src_bytes > bytes) r.fault("cp.async src-size out of range");
  if (reinterpret_cast<uintptr_t>(dst) % unsigned(bytes) != 0 ||
      (src_bytes > 0 && reinterpret_cast<uintptr_t>(src) % unsigned(bytes) != 0))
    r.fault("misaligned cp.async of " + std::to_string(bytes) + " bytes");
  counters_record(MemKind::ldgsts, __builtin_return_address(0), src, src_bytes);
  counters_record(MemKind::ldgsts_shared, __builtin_return_address(0), dst, bytes);
  // Between issue and wait the destination is undefined (the copy may land at any moment): it
  // reads as NaN here, so a thread that reads it too early, or overwrites a tile other threads
  // are still reading, produces NaNs instead of a lucky right answer.
  std::memset(dst, 0xFF, size_t(bytes));
  r.current().open.push_back(CpCopy{dst, src, bytes, src_bytes});
}

void cp_async_commit() {
  Fiber& f = runner_in_kernel("cp.async.commit_group").current();
  f.groups.push_back(std::move(f.open));
  f.open.clear();
}

void cp_async_wait(int n) {
  Fiber& f = runner_in_kernel("cp.async.wait_group").current();
  while (int(f.groups.size()) > n) {
    perform(f.groups.front());
    f.groups.pop_front();
  }
}

}  // namespace srgan::emu
