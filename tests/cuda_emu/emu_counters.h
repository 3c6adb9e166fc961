// Memory and instruction counters of the CUDA emulator, per kernel launch, with the definitions
// Nsight Compute uses (see docs/performance.md, "Counters without a GPU"):
//   request     one warp-level memory instruction (the lanes of a warp that execute the same
//               instruction together);
//   sector      a 32-byte aligned piece of global memory a request touches (4 per request for
//               a coalesced 4-byte load by 32 lanes, 32 for a stride of 32 floats);
//   wavefront   one pass of the shared-memory pipeline: 32 banks of 4 bytes; lanes reading
//               different words of one bank need one wavefront each, the same word is a
//               broadcast. 8- and 16-byte accesses go in phases of 16 and 8 lanes (128 bytes).
// How the emulator sees accesses: the kernels of the emulated build are compiled with GCC's
// kernel-address-sanitizer instrumentation in call mode (-fsanitize=kernel-address
// --param asan-instrumentation-with-call-threshold=0), so every load and store the host compiler
// emits calls a hook (emu_counters.cpp) with its address, size and call site. While counting, each
// CUDA thread appends (call site, address, size) to its trace; when every thread of the block is
// suspended (a barrier or warp collective) the traces of a warp are grouped into requests: the
// n-th execution of a call site by each lane is one request (lanes that branch around it simply
// drop out, as on a GPU). cp.async, ldmatrix, mma, wgmma, the bulk tensor copy and barriers are counted
// by the emulator's own implementations of those instructions. Accesses outside device memory and shared memory (the
// thread's locals) are ignored.
// Counts are those of the accesses the host compiler emits, which follow the CUDA source; nvcc may
// merge or drop a few (it keeps values in registers just the same), so the SASS is the judge of the
// instruction count, and this of where the accesses go.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

namespace srgan::emu {

// One memory-instruction class of one launch. Counts cover the blocks that ran (see
// LaunchCounts::blocks_run); multiply by LaunchCounts::scale() for the whole grid.
struct MemCount {
  double requests = 0;          // warp-level instructions
  double lanes = 0;             // active lanes over all requests
  double bytes = 0;             // bytes the lanes asked for (a lane's size each)
  double sectors = 0;           // global: distinct 32-byte sectors per request, summed
  double unique_bytes = 0;      // global: distinct bytes per request, summed (<= sectors * 32)
  double wavefronts = 0;        // shared: wavefronts, summed
  double ideal_wavefronts = 0;  // shared: wavefronts with no bank conflict (one per 128 distinct bytes)
  void add(const MemCount& o);
};

enum class MemKind : uint8_t {
  global_load,    // LDG
  global_store,   // STG
  ldgsts,         // cp.async: its global side
  ldgsts_shared,  // cp.async: its shared-memory side (the store into the tile)
  shared_load,    // LDS
  shared_store,   // STS
  ldsm,           // ldmatrix (LDSM): one 16-byte row per lane
  tma,            // cp.async.bulk.tensor (UTMALDG): its global side, one request per 16-byte box row
  count_
};
const char* mem_kind_name(MemKind k);

struct LaunchCounts {
  std::string kernel;   // as written at the launch (source text)
  std::string mangled;  // the kernel's mangled name (Itanium ABI, as nvcc names it), "" if unknown
  dim3 grid{1, 1, 1}, block{1, 1, 1};
  size_t dynamic_smem = 0;
  int64_t blocks_total = 0, blocks_run = 0;
  double warps_run = 0;              // warps of the blocks that ran
  MemCount mem[int(MemKind::count_)];
  double hmma = 0;                   // mma.sync warp instructions (TF32 and BF16)
  double hmma_bf16 = 0;              // ... of them m16n8k16 BF16 (twice the multiply-adds of m16n8k8)
  double ldmatrix = 0;               // ldmatrix warp instructions (also in mem[ldsm].requests)
  double hgmma = 0;                  // wgmma warp instructions (HGMMA: a warpgroup's counts once per warp)
  double hgmma_macs = 0;             // ... their multiply-adds (m64 n k8 each: 16 n 8 per warp)
  double barriers = 0;               // __syncthreads executed, per warp (a warp instruction each)
  double footprint_sectors = 0;      // distinct global sectors touched by the blocks that ran
  double allocation_bytes = 0;       // bytes of the device allocations the launch touched at all
  double scale() const { return blocks_run > 0 ? double(blocks_total) / double(blocks_run) : 0.0; }
  const MemCount& operator[](MemKind k) const { return mem[int(k)]; }
};

struct CountOptions {
  // 0: run every block. Otherwise at most this many blocks per launch, evenly spaced over the
  // grid in launch order and always including the last (the partial tiles), and the counts are
  // of those blocks; outputs are then incomplete. Launches with fewer blocks run whole.
  int64_t max_blocks = 0;
};

// Starts counting every launch that runs from now on (drains queued work first). Not nested.
void counters_begin(const CountOptions& opt);
// Drains the queued work and returns one record per launch that ran since counters_begin.
std::vector<LaunchCounts> counters_end();
bool counting();

// The two rules, exposed for the self-tests. Each access is (address, bytes) of one lane.
struct LaneAccess {
  int lane;
  uint64_t addr;
  int bytes;
};
// Distinct 32-byte sectors and distinct bytes of one global request.
void global_request_sectors(const std::vector<LaneAccess>& req, double& sectors, double& unique_bytes);
// Wavefronts and conflict-free wavefronts of one shared-memory request (lanes in phases of
// 128 / max(4, bytes) lanes; per phase, the largest number of distinct 4-byte words in one bank).
void shared_request_wavefronts(const std::vector<LaneAccess>& req, double& wavefronts, double& ideal);

}  // namespace srgan::emu
