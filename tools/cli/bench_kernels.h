// `srgan bench kernels`: times every hand-written CUDA kernel variant against its cuDNN/cuBLAS
// baseline on SRGAN's shapes (tools/cli/cmd_bench_cuda.cu). Only built with CUDA; tools/cli/cmd_bench.cpp
// calls it under SRGAN_WITH_CUDA and otherwise says the build has no CUDA.
#pragma once
#include <string>

namespace srgan::app {

struct KernelBenchOptions {
  std::string json;    // write the rows as JSON here when not empty
  bool quick = false;  // fewer shapes and repetitions (a smoke run)
  bool tiny = false;   // every shape cut down, one timed call per row: checks that every variant
                       // runs (the CUDA emulator's smoke test); the figures mean nothing
  bool once = false;   // each row called once at its real shape, no warm-up or repeats: for
                       // profilers and sanitizers (ncu, compute-sanitizer); ms is one cold call
  std::string filter;  // only ops whose name contains this (empty: all)
  std::string shape;   // only rows whose shape contains one of its '|'-separated parts (empty: all)
};

// Prints the table on stdout (progress on stderr); returns a process exit code.
int bench_kernels_cuda(const KernelBenchOptions& opt);

}  // namespace srgan::app
