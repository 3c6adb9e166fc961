// The CUDA emulator's counters (see emu_counters.h): the load/store hooks that GCC's
// kernel-address-sanitizer instrumentation calls, the per-thread traces, their grouping into
// warp-level requests, and the sector and bank-wavefront rules.
#include "tests/cuda_emu/emu_counters.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "tests/cuda_emu/emu_internal.h"

namespace srgan::emu {

void MemCount::add(const MemCount& o) {
  requests += o.requests;
  lanes += o.lanes;
  bytes += o.bytes;
  sectors += o.sectors;
  unique_bytes += o.unique_bytes;
  wavefronts += o.wavefronts;
  ideal_wavefronts += o.ideal_wavefronts;
}

const char* mem_kind_name(MemKind k) {
  switch (k) {
    case MemKind::global_load: return "global_load";
    case MemKind::global_store: return "global_store";
    case MemKind::ldgsts: return "ldgsts";
    case MemKind::ldgsts_shared: return "ldgsts_shared";
    case MemKind::shared_load: return "shared_load";
    case MemKind::shared_store: return "shared_store";
    case MemKind::ldsm: return "ldsm";
    case MemKind::tma: return "tma";
    case MemKind::count_: break;
  }
  return "?";
}

void global_request_sectors(const std::vector<LaneAccess>& req, double& sectors, double& unique_bytes) {
  std::vector<uint64_t> sec, byte;
  for (const LaneAccess& a : req)
    for (int b = 0; b < a.bytes; ++b) {
      byte.push_back(a.addr + uint64_t(b));
      sec.push_back((a.addr + uint64_t(b)) >> 5);
    }
  std::sort(sec.begin(), sec.end());
  std::sort(byte.begin(), byte.end());
  sectors = double(std::unique(sec.begin(), sec.end()) - sec.begin());
  unique_bytes = double(std::unique(byte.begin(), byte.end()) - byte.begin());
}

void shared_request_wavefronts(const std::vector<LaneAccess>& req, double& wavefronts, double& ideal) {
  wavefronts = ideal = 0;
  int width = 4;
  for (const LaneAccess& a : req) width = std::max(width, a.bytes);
  const int per_phase = 128 / std::min(width, 16);  // 32, 16 or 8 lanes
  for (int ph = 0; ph < 32 / per_phase; ++ph) {
    std::vector<uint64_t> words;  // distinct 4-byte words of this phase
    for (const LaneAccess& a : req) {
      if (a.lane / per_phase != ph) continue;
      for (int w = 0; w < std::max(1, a.bytes / 4); ++w) words.push_back((a.addr >> 2) + uint64_t(w));
    }
    if (words.empty()) continue;
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    int per_bank[32] = {};
    int worst = 0;
    for (uint64_t w : words) worst = std::max(worst, ++per_bank[w & 31]);
    wavefronts += worst;
    ideal += double((words.size() + 31) / 32);
  }
}

namespace {

// ---- state of a counting session ------------------------------------------------------------

std::atomic<bool> g_on{false};
std::mutex g_mu;                 // guards everything below while blocks run
CountOptions g_opt;
std::vector<LaunchCounts> g_done;
LaunchCounts g_cur;              // the launch running now (launches run one at a time)
bool g_cur_open = false;
std::unordered_set<uint64_t> g_footprint;
std::vector<std::pair<uint64_t, uint64_t>> g_device;  // device allocations [begin, end), sorted
std::vector<char> g_touched;                          // per allocation of g_device: accessed

struct Access {
  uint64_t pc, addr;
  int bytes;
  MemKind kind;
};

// Per host thread: the block it runs now.
struct BlockState {
  int threads = 0;
  std::vector<std::vector<Access>> trace;              // per CUDA thread, since the last flush
  std::vector<std::pair<uint64_t, uint64_t>> shared;  // shared-memory ranges [begin, end)
  LaunchCounts acc;                                    // this block's counts
  std::unordered_set<uint64_t> footprint;
};
thread_local BlockState* tl_block = nullptr;

// Index of the range holding a, or -1.
int64_t range_of(const std::vector<std::pair<uint64_t, uint64_t>>& r, uint64_t a) {
  auto it = std::upper_bound(r.begin(), r.end(), std::make_pair(a, UINT64_MAX));
  if (it == r.begin()) return -1;
  --it;
  return a >= it->first && a < it->second ? int64_t(it - r.begin()) : -1;
}

bool is_shared(const BlockState& b, uint64_t a) {
  for (const auto& r : b.shared)
    if (a >= r.first && a < r.second) return true;
  return false;
}

void record(MemKind kind, uint64_t pc, uint64_t addr, int bytes) {
  BlockState* b = tl_block;
  const int t = current_thread_linear();
  if (!b || t < 0 || t >= b->threads) return;
  b->trace[size_t(t)].push_back(Access{pc, addr, bytes, kind});
}

// A load or store the host compiler emitted: shared, global, or a local (ignored).
void hook(bool store, uintptr_t addr, size_t bytes, void* pc) {
  if (!g_on.load(std::memory_order_relaxed)) return;
  BlockState* b = tl_block;
  if (!b) return;
  MemKind k;
  if (is_shared(*b, addr)) k = store ? MemKind::shared_store : MemKind::shared_load;
  else if (range_of(g_device, addr) >= 0) k = store ? MemKind::global_store : MemKind::global_load;
  else return;
  record(k, reinterpret_cast<uint64_t>(pc), addr, int(bytes));
}

bool is_global_kind(MemKind k) {
  return k == MemKind::global_load || k == MemKind::global_store || k == MemKind::ldgsts || k == MemKind::tma;
}

// Groups warp w's traces into requests (n-th execution of a call site by each lane = one request).
void flush_warp(BlockState& b, int w) {
  struct Item {
    MemKind kind;
    uint64_t pc;
    uint32_t occ;
    int lane;
    uint64_t addr;
    int bytes;
  };
  std::vector<Item> items;
  for (int l = 0; l < 32 && w * 32 + l < b.threads; ++l) {
    auto& tr = b.trace[size_t(w * 32 + l)];
    std::unordered_map<uint64_t, uint32_t> occ;  // (call site, kind) -> executions so far
    for (const Access& a : tr) {
      const uint32_t n = occ[a.pc * 8 + uint64_t(a.kind)]++;
      items.push_back(Item{a.kind, a.pc, n, l, a.addr, a.bytes});
    }
    tr.clear();
  }
  std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) {
    if (x.kind != y.kind) return x.kind < y.kind;
    if (x.pc != y.pc) return x.pc < y.pc;
    if (x.occ != y.occ) return x.occ < y.occ;
    return x.lane < y.lane;
  });
  std::vector<LaneAccess> req;
  for (size_t i = 0; i < items.size();) {
    size_t j = i;
    req.clear();
    while (j < items.size() && items[j].kind == items[i].kind && items[j].pc == items[i].pc && items[j].occ == items[i].occ) {
      req.push_back(LaneAccess{items[j].lane, items[j].addr, items[j].bytes});
      ++j;
    }
    MemCount& m = b.acc.mem[int(items[i].kind)];
    m.requests += 1;
    m.lanes += double(req.size());
    for (const LaneAccess& a : req) m.bytes += a.bytes;
    if (is_global_kind(items[i].kind)) {
      double s, u;
      global_request_sectors(req, s, u);
      m.sectors += s;
      m.unique_bytes += u;
      for (const LaneAccess& a : req)
        for (uint64_t sec = a.addr >> 5; a.bytes > 0 && sec <= (a.addr + uint64_t(a.bytes) - 1) >> 5; ++sec)
          b.footprint.insert(sec);
    } else {
      double wf, ideal;
      shared_request_wavefronts(req, wf, ideal);
      m.wavefronts += wf;
      m.ideal_wavefronts += ideal;
    }
    i = j;
  }
}

}  // namespace

// ---- the session --------------------------------------------------------------------------------

bool counting() { return g_on.load(); }

void counters_begin(const CountOptions& opt) {
  cudaDeviceSynchronize();
  std::lock_guard<std::mutex> lk(g_mu);
  g_opt = opt;
  g_done.clear();
  g_on.store(true);
}

std::vector<LaunchCounts> counters_end() {
  cudaDeviceSynchronize();
  std::lock_guard<std::mutex> lk(g_mu);
  g_on.store(false);
  return std::move(g_done);
}

int64_t counters_launch_begin(const std::string& kernel, dim3 grid, dim3 block, size_t smem) {
  if (!g_on.load()) return 0;
  std::lock_guard<std::mutex> lk(g_mu);
  g_cur = LaunchCounts{};
  g_cur.kernel = kernel;
  g_cur.grid = grid;
  g_cur.block = block;
  g_cur.dynamic_smem = smem;
  g_cur.blocks_total = int64_t(grid.x) * grid.y * grid.z;
  g_cur_open = true;
  g_footprint.clear();
  g_device = device_ranges();
  g_touched.assign(g_device.size(), 0);
  return g_opt.max_blocks;
}

void counters_launch_end() {
  std::lock_guard<std::mutex> lk(g_mu);
  if (!g_cur_open) return;
  g_cur.footprint_sectors = double(g_footprint.size());
  g_footprint.clear();
  for (size_t i = 0; i < g_device.size(); ++i)
    if (g_touched[i]) g_cur.allocation_bytes += double(g_device[i].second - g_device[i].first);
  g_done.push_back(std::move(g_cur));
  g_cur_open = false;
}

void counters_kernel_name(const char* tag) {
  if (!g_on.load(std::memory_order_relaxed) || !tl_block || !tl_block->acc.mangled.empty()) return;
  tl_block->acc.mangled = mangled_from_tag(tag);
}

void counters_block_begin(int threads) {
  if (!g_on.load(std::memory_order_relaxed)) return;
  thread_local BlockState state;
  state.threads = threads;
  if (state.trace.size() < size_t(threads)) state.trace.resize(size_t(threads));
  for (auto& t : state.trace) t.clear();
  state.acc = LaunchCounts{};
  state.footprint.clear();
  state.acc.warps_run = double((threads + 31) / 32);
  state.shared.clear();  // __shared__ variables register again as the block reaches them
  tl_block = &state;
}

void counters_shared_range(const void* p, size_t bytes) {
  BlockState* b = tl_block;
  if (!b || bytes == 0) return;
  const uint64_t a = reinterpret_cast<uint64_t>(p);
  for (const auto& r : b->shared)
    if (r.first == a) return;
  b->shared.emplace_back(a, a + bytes);
}

void counters_flush() {
  BlockState* b = tl_block;
  if (!b) return;
  for (int w = 0; w * 32 < b->threads; ++w) flush_warp(*b, w);
}

void counters_block_end() {
  BlockState* b = tl_block;
  if (!b) return;
  counters_flush();
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_cur_open) {
    if (g_cur.mangled.empty()) g_cur.mangled = b->acc.mangled;
    g_cur.blocks_run += 1;
    g_cur.warps_run += b->acc.warps_run;
    for (int k = 0; k < int(MemKind::count_); ++k) g_cur.mem[k].add(b->acc.mem[k]);
    g_cur.hmma += b->acc.hmma;
    g_cur.hmma_bf16 += b->acc.hmma_bf16;
    g_cur.ldmatrix += b->acc.ldmatrix;
    g_cur.hgmma += b->acc.hgmma;
    g_cur.hgmma_macs += b->acc.hgmma_macs;
    g_cur.barriers += b->acc.barriers;
    g_footprint.insert(b->footprint.begin(), b->footprint.end());
    for (uint64_t sec : b->footprint) {
      const int64_t i = range_of(g_device, sec << 5);
      if (i >= 0) g_touched[size_t(i)] = 1;
    }
  }
  tl_block = nullptr;
}

void counters_note(WarpInstr what) {
  BlockState* b = tl_block;
  if (!b || lane_id() != 0) return;
  switch (what) {
    case WarpInstr::hmma: b->acc.hmma += 1; break;
    case WarpInstr::hmma_bf16: b->acc.hmma += 1, b->acc.hmma_bf16 += 1; break;
    case WarpInstr::ldmatrix: b->acc.ldmatrix += 1; break;
    case WarpInstr::barrier: b->acc.barriers += 1; break;
  }
}

void counters_note_wgmma(double macs) {
  BlockState* b = tl_block;
  if (!b || lane_id() != 0) return;
  b->acc.hgmma += 1;
  b->acc.hgmma_macs += macs / 4;
}

void counters_record(MemKind kind, const void* pc, const void* addr, int bytes) {
  if (!tl_block) return;
  record(kind, reinterpret_cast<uint64_t>(pc), reinterpret_cast<uint64_t>(addr), bytes);
}

}  // namespace srgan::emu

// ---- the hooks GCC's -fsanitize=kernel-address calls (call mode) ------------------------------
// Only while counting and inside a counted block do they do more than test a flag. Not in an
// AddressSanitizer build: its runtime defines these functions (and the counters see nothing).
#if !defined(__SANITIZE_ADDRESS__)

#define SRGAN_EMU_HOOK(n)                                                                              \
  extern "C" void __asan_load##n##_noabort(uintptr_t a) {                                            \
    srgan::emu::hook_access(false, a, n, __builtin_return_address(0));                               \
  }                                                                                                  \
  extern "C" void __asan_store##n##_noabort(uintptr_t a) {                                           \
    srgan::emu::hook_access(true, a, n, __builtin_return_address(0));                                \
  }

namespace srgan::emu {
void hook_access(bool store, uintptr_t a, size_t n, void* pc) { hook(store, a, n, pc); }
}  // namespace srgan::emu

SRGAN_EMU_HOOK(1)
SRGAN_EMU_HOOK(2)
SRGAN_EMU_HOOK(4)
SRGAN_EMU_HOOK(8)
SRGAN_EMU_HOOK(16)
extern "C" void __asan_loadN_noabort(uintptr_t a, size_t n) {
  srgan::emu::hook_access(false, a, n, __builtin_return_address(0));
}
extern "C" void __asan_storeN_noabort(uintptr_t a, size_t n) {
  srgan::emu::hook_access(true, a, n, __builtin_return_address(0));
}
extern "C" void __asan_handle_no_return() {}
#endif  // !__SANITIZE_ADDRESS__
