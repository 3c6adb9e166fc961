// `srgan bench counters`: runs every row of `bench kernels` once in the CUDA emulator with its
// counters on (tests/cuda_emu/emu_counters.h) and keeps what each row launched. Library
// baselines (cuDNN, cuBLAS) are absent from the emulator and listed as not counted.
#include <cuda_runtime.h>

#include <cstdio>
#include <stdexcept>

#include "tools/cli/bench_counters.h"

namespace srgan::app {

#ifdef SRGAN_CUDA_EMU
void count_row(Row& row, const std::function<void()>& run, int64_t max_blocks) {
  std::fprintf(stderr, "  %-22s %-28s %-22s ...", row.op.c_str(), row.shape.c_str(), row.variant.c_str());
  std::fflush(stderr);
  emu::CountOptions co;
  co.max_blocks = max_blocks;
  emu::counters_begin(co);
  try {
    run();
    cudaDeviceSynchronize();  // queued work runs here (the emulator defers it); errors: below
  } catch (const std::exception& e) {
    row.error = e.what();
  }
  row.launches = emu::counters_end();
  const cudaError_t err = cudaGetLastError();
  if (row.error.empty() && err != cudaSuccess) row.error = cudaGetErrorString(err);
  std::fprintf(stderr, " %zu launch(es)%s\n", row.launches.size(), row.error.empty() ? "" : " FAILED");
}
#endif

std::vector<Row> collect_counter_rows(const CounterOptions& opt) {
#ifndef SRGAN_CUDA_EMU
  (void)opt;
  throw std::runtime_error(
      "dynamic counters come from the CUDA emulator: run the emulated command line, "
      "build/tests/cuda_emu/srgan_emu bench counters");
#else
  Report rep;
  rep.env.counting = true;
  rep.env.tiny = opt.tiny;
  rep.env.quick = opt.quick;
  rep.filter = opt.filter;
  rep.shape = opt.shape;
  rep.sink = [&](Report& r, Row row, const std::function<void(int)>& run) {
    if (is_library_variant(row.variant)) {
      row.error = "library baseline: not counted (absent from the emulator)";
      r.rows.push_back(std::move(row));
      return;
    }
    count_row(row, [&] { run(0); }, opt.max_blocks);
    if (!row.error.empty()) ++r.failures;
    r.rows.push_back(std::move(row));
  };
  add_kernel_rows(rep, opt.quick);
  return std::move(rep.rows);
#endif
}

}  // namespace srgan::app
