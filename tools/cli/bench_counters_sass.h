// Static counters of `srgan bench counters`, read from the SASS that nvcc wrote for sm_90
// (cuobjdump -sass / -res-usage over the built kernel library): registers, shared memory,
// theoretical occupancy on sm_90, and the instruction mix of each kernel's main loop.
//   main loop  the smallest loop (a backward BRA and the code between its target and it) that
//              holds an MMA instruction, else an FFMA, else a global load or store; none for
//              straight-line kernels. Its instructions are counted as they stand in the code,
//              so a branch inside the loop counts both of its sides.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace srgan::app {

enum class SassClass {
  mma,      // HMMA, HGMMA, IMMA, ... (tensor cores)
  ffma,     // FFMA
  fp32,     // other fp32 math: FADD, FMUL, FSETP, FSEL, FMNMX, MUFU
  lds,      // LDS
  ldsm,     // LDSM (ldmatrix)
  sts,      // STS
  ldg,      // LDG
  stg,      // STG
  ldgsts,   // LDGSTS (cp.async)
  local,    // LDL, STL (register spills, local arrays)
  integer,  // integer and address work: IMAD, IADD3, LEA, SHF, LOP3, ISETP, SEL, U* (uniform), ...
  conv,     // conversions: F2F, F2FP, I2F, F2I, FRND
  barrier,  // BAR, DEPBAR, LDGDEPBAR, MEMBAR, SYNCS
  control,  // BRA, BSSY, BSYNC, EXIT, CALL, RET, NOP, ...
  other,    // MOV, S2R, CS2R, LDC, SHFL, ...
  count_
};
const char* sass_class_name(SassClass c);
SassClass classify_sass(const std::string& opcode);  // opcode with its modifiers, e.g. "HMMA.1688.F32.TF32"
// Multiply-adds one warp instruction does: HMMA.1688 = 16*8*8 = 1024, HMMA.16816 = 2048,
// FFMA = 32; 0 for the rest.
double sass_macs(const std::string& opcode);

struct SassMix {
  int instructions = 0;
  int by_class[int(SassClass::count_)] = {};
  int bar_sync = 0;  // BAR.SYNC / BAR.RED (the __syncthreads among the barrier class)
  double macs = 0;  // multiply-adds of one pass, per warp
  int operator[](SassClass c) const { return by_class[int(c)]; }
  double macs_per_instruction() const { return instructions ? macs / instructions : 0.0; }
  double share(SassClass c) const { return instructions ? double((*this)[c]) / instructions : 0.0; }
};

struct SassKernel {
  std::string mangled;
  int regs = -1, shared_static = -1, stack = -1, local = -1;  // -1: not in the resource report
  SassMix whole;                  // every instruction of the kernel
  bool has_loop = false;
  std::string loop_marker;        // "mma", "ffma" or "global": what picked the loop
  uint32_t loop_begin = 0, loop_end = 0;  // byte offsets of its first and last instruction
  SassMix loop;
};

// Parses `cuobjdump -sass -arch sm_90` and `cuobjdump -res-usage -arch sm_90` output (either may
// be empty). A kernel listed several times (one per object file) is kept once.
std::map<std::string, SassKernel> parse_sass(const std::string& sass, const std::string& res_usage);

// Theoretical occupancy on sm_90 (H100) from its published limits: 64 warps, 32 blocks,
// 65,536 registers (allocated per warp in units of 256) and 228 KiB of shared memory per SM
// (1 KiB of it reserved per block, allocated in 128-byte units). Returns blocks per SM (0: the
// block does not fit) and the limiting resource.
struct Occupancy {
  int blocks_per_sm = 0;
  double occupancy = 0;  // active warps / 64
  std::string limit;     // "warps", "blocks", "registers", "shared memory"
};
Occupancy sm90_occupancy(int threads_per_block, int regs_per_thread, int smem_per_block);

}  // namespace srgan::app
