// The H100 time estimate of one launch (see bench_counters_model.h).
#include "tools/cli/bench_counters_model.h"

#include <algorithm>
#include <cmath>

namespace srgan::app {

LaunchEstimate estimate_launch(const emu::LaunchCounts& c, const SassKernel* sass) {
  using emu::MemKind;
  LaunchEstimate e;
  const double s = c.scale();
  e.warps = c.warps_run * s;
  const double global_requests =
      (c[MemKind::global_load].requests + c[MemKind::global_store].requests + c[MemKind::ldgsts].requests) * s;

  // Main-loop passes, from the dynamic count of the instruction that picked the loop.
  if (sass && sass->has_loop) {
    const SassMix& L = sass->loop;
    if (L[SassClass::mma] > 0 && c.hmma + c.hgmma > 0) e.loop_iterations = (c.hmma + c.hgmma) * s / L[SassClass::mma];
    else if (L.bar_sync > 0 && c.barriers > 0) e.loop_iterations = c.barriers * s / L.bar_sync;
    else if (const int mem = L[SassClass::ldg] + L[SassClass::stg] + L[SassClass::ldgsts]; mem > 0)
      e.loop_iterations = global_requests / mem;
    else if (const int lds = L[SassClass::lds] + L[SassClass::ldsm]; lds > 0)  // e.g. a loop over shared tiles
      e.loop_iterations = s * (c[MemKind::shared_load].requests + c[MemKind::ldsm].requests) / lds;
  }
  // The rest of the kernel (prologue, epilogue, the paths a loop-less kernel takes): its static
  // code holds alternatives that never all run, so it is scaled by the memory instructions that
  // did run outside the loop: (instructions / memory instructions) of the code outside the loop.
  if (sass && sass->whole.instructions > 0) {
    auto mem_of = [](const SassMix& m) {
      return double(m[SassClass::ldg] + m[SassClass::stg] + m[SassClass::ldgsts] + m[SassClass::lds] +
                    m[SassClass::ldsm] + m[SassClass::sts] + m[SassClass::local]);
    };
    const double dyn_mem = global_requests + s * (c[MemKind::shared_load].requests + c[MemKind::shared_store].requests +
                                                  c[MemKind::ldsm].requests);
    const double loop_instr = sass->has_loop ? sass->loop.instructions : 0;
    const double loop_mem = sass->has_loop ? mem_of(sass->loop) : 0;
    const double rest_instr = sass->whole.instructions - loop_instr, rest_mem = mem_of(sass->whole) - loop_mem;
    const double rest_dyn_mem = std::max(0.0, dyn_mem - e.loop_iterations * loop_mem);
    const double rest = rest_mem > 0 ? rest_dyn_mem * rest_instr / rest_mem : e.warps * rest_instr;
    e.issued_instructions = e.loop_iterations * loop_instr + rest;
  }

  // Multiply-adds issued: every mma and wgmma counted by the emulator (wgmma with its own m x n x
  // k); FFMA from the SASS and the passes.
  if (c.hmma > 0 || c.hgmma > 0) {
    e.bf16 = c.hmma_bf16 > 0;
    if (c.hmma > 0) {
      double per = e.bf16 ? 2048 : 1024;  // HMMA.16816 (m16n8k16 BF16) or HMMA.1688 (m16n8k8 TF32)
      if (sass && c.hgmma == 0 && sass->whole[SassClass::mma] > 0) per = sass->whole.macs / sass->whole[SassClass::mma];
      e.issued_macs = c.hmma * s * per;
    }
    e.issued_macs += c.hgmma_macs * s;
    e.tensor = true;
  } else if (sass) {
    const double loop_ffma = sass->has_loop ? sass->loop[SassClass::ffma] : 0;
    e.issued_macs = 32.0 * (e.loop_iterations * loop_ffma + e.warps * (sass->whole[SassClass::ffma] - loop_ffma));
  }

  e.l2_bytes = 32.0 * s *
               (c[MemKind::global_load].sectors + c[MemKind::global_store].sectors + c[MemKind::ldgsts].sectors +
                c[MemKind::tma].sectors);
  e.dram_bytes = std::min(32.0 * c.footprint_sectors * s, c.allocation_bytes);

  // Blocks resident per SM (reported), and the share of the SMs' time the grid keeps busy: the
  // busiest SM runs ceil(blocks / 132) blocks' work.
  const int threads = int(c.block.x * c.block.y * c.block.z);
  if (sass && sass->regs > 0)
    e.blocks_per_sm =
        sm90_occupancy(threads, sass->regs, std::max(sass->shared_static, 0) + int(c.dynamic_smem)).blocks_per_sm;
  const double per_sm = std::ceil(double(c.blocks_total) / H100::kSms);
  e.wave_efficiency = per_sm > 0 ? double(c.blocks_total) / (per_sm * H100::kSms) : 1.0;

  const double peak = e.bf16 ? H100::kBf16Flops : e.tensor ? H100::kTf32Flops : H100::kFp32Flops;
  e.math_ms = 2.0 * e.issued_macs / peak * 1e3 / e.wave_efficiency;
  e.l2_ms = e.l2_bytes / H100::kL2Bps * 1e3;
  e.dram_ms = e.dram_bytes / H100::kDramBps * 1e3;
  e.issue_ms = e.issued_instructions / (double(H100::kSms) * H100::kSchedulers * H100::kClockHz) * 1e3 / e.wave_efficiency;
  e.ms = e.math_ms, e.bound = "math";
  if (e.l2_ms > e.ms) e.ms = e.l2_ms, e.bound = "L2";
  if (e.dram_ms > e.ms) e.ms = e.dram_ms, e.bound = "DRAM";
  if (e.issue_ms > e.ms) e.ms = e.issue_ms, e.bound = "issue";
  return e;
}

}  // namespace srgan::app
