// The H100 time *estimate* of `srgan bench counters`: one kernel launch from its emulator counts
// (tests/cuda_emu/emu_counters.h) and its SASS (bench_counters_sass.h). Written down in
// docs/performance.md ("The estimate"):
//   time = max(math, L2, DRAM, issue) / wave efficiency
//   math   issued multiply-adds * 2 / pipe peak: 398 TFLOP/s for TF32 mma (cuBLAS TF32 measured on
//          the H100), 796 TFLOP/s for BF16 mma (assumed: twice TF32, the ratio of NVIDIA's H100
//          dense peaks, 989 / 495; not measured here), 51 TFLOP/s for FFMA (cuBLAS fp32 measured);
//   L2     global sectors requested * 32 B / 5.5 TB/s (assumed H100 L2 bandwidth, not measured);
//   DRAM   compulsory bytes (distinct sectors touched, at most the bytes of the buffers touched)
//          / 2.9 TB/s (device-to-device copy, measured);
//   issue  warp instructions issued / (132 SMs * 4 schedulers * 1.755 GHz): the main loop's
//          instructions times its passes (the dynamic count of its MMAs, barriers, global or
//          shared requests over their number in the loop), plus the code outside the loop in proportion
//          to the memory requests that ran outside it (its instructions per memory instruction);
//   wave efficiency  blocks / (132 * ceil(blocks / 132)), applied to the math and issue terms: the
//          busiest SM does ceil(blocks / 132) blocks' work (a grid of 66 blocks leaves half the SMs
//          idle). Latency is not modelled: a throughput bound, so a floor, not a prediction.
#pragma once
#include <string>

#include "tests/cuda_emu/emu_counters.h"
#include "tools/cli/bench_counters_sass.h"

namespace srgan::app {

struct H100 {
  static constexpr double kTf32Flops = 398e12, kBf16Flops = 2 * kTf32Flops, kFp32Flops = 51e12, kDramBps = 2.9e12,
                          kL2Bps = 5.5e12;
  static constexpr int kSms = 132, kSchedulers = 4;
  static constexpr double kClockHz = 1.755e9;
};

struct LaunchEstimate {
  double warps = 0;            // whole grid
  double issued_macs = 0;      // multiply-adds issued (MMA or FFMA), whole grid
  bool tensor = false;         // MMA (TF32 or BF16) rather than FFMA
  bool bf16 = false;           // ... BF16 mma.m16n8k16
  double loop_iterations = 0;  // main-loop passes over all warps (0: unknown)
  double issued_instructions = 0;  // 0: no SASS
  double l2_bytes = 0, dram_bytes = 0;
  int blocks_per_sm = 0;       // resident blocks per SM (occupancy), 0 when unknown
  double wave_efficiency = 1;
  double math_ms = 0, l2_ms = 0, dram_ms = 0, issue_ms = 0, ms = 0;
  std::string bound;           // "math", "L2", "DRAM" or "issue"
};

// sass may be null (no SASS for this kernel): then the issue term and FFMA counts are missing.
LaunchEstimate estimate_launch(const emu::LaunchCounts& c, const SassKernel* sass);

}  // namespace srgan::app
