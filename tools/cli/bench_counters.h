// `srgan bench counters`: what each CUDA kernel variant of `bench kernels` will cost on an H100,
// without a GPU. Static counters from the SASS of the built kernels (bench_counters_sass.h),
// dynamic ones from the CUDA emulator (tests/cuda_emu/emu_counters.h), and an H100 time
// estimate from both (bench_counters_model.h). The dynamic part needs the emulated build
// (srgan_emu); the nvcc build prints the static part alone.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tools/cli/bench_kernel_rows.h"

namespace srgan::app {

struct CounterOptions {
  std::string json;      // write every row as JSON here when not empty
  std::string plot;      // roofline PNG (tools/scripts/plot_roofline.py) when not empty
  std::string filter;    // only ops whose name contains this
  std::string shape;     // only rows whose shape contains this (e.g. "9x9->3")
  std::string sass_dir;  // folder with kernels_sm90.sass / .res (default: the build's)
  bool quick = false;    // the goal shapes only
  bool tiny = false;     // every shape cut down (the emulator's smoke test)
  int64_t max_blocks = 48;  // blocks counted per launch (evenly spaced, scaled up); 0: all
  bool network = false;  // whole networks (training steps, inference) instead of the kernel rows
  std::string precision = "tf32";  // --network: the CUDA kernels of this precision (fp32 | tf32 | bf16)
};

int bench_counters(const CounterOptions& opt);

// The rows with their launches' counts (bench_counters_cuda.cu); throws where the build has no
// emulator.
std::vector<Row> collect_counter_rows(const CounterOptions& opt);
// --network: the SRResNet MSE step, the SRGAN step and 510->2040 inference, each a row of all its
// launches (bench_counters_network.cpp); throws where the build has no emulator.
std::vector<Row> collect_network_rows(const CounterOptions& opt);
// Emulated build only (bench_counters_cuda.cu): runs `run` with the emulator's counters on (at
// most max_blocks blocks per launch, 0: all) and keeps its launches in row.launches, or the
// failure in row.error.
void count_row(Row& row, const std::function<void()>& run, int64_t max_blocks);

}  // namespace srgan::app
