// `srgan bench kernels`: times every hand-written CUDA kernel variant against its cuDNN/cuBLAS
// baseline on SRGAN's shapes (tools/cmd_bench_cuda.cu). Only built with CUDA; tools/cmd_bench.cpp
// calls it under SRGAN_WITH_CUDA and otherwise says the build has no CUDA.
#pragma once
#include <string>

namespace srgan::app {

struct KernelBenchOptions {
  std::string json;    // write the rows as JSON here when not empty
  bool quick = false;  // fewer shapes and repetitions (a smoke run)
  std::string filter;  // only ops whose name contains this (empty: all)
};

// Prints the table on stdout (progress on stderr); returns a process exit code.
int bench_kernels_cuda(const KernelBenchOptions& opt);

}  // namespace srgan::app
