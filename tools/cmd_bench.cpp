// `srgan bench <what>`: benchmarks. `kernels` races our CUDA kernels against cuDNN/cuBLAS
// (tools/cmd_bench_cuda.cu, CUDA builds only); a CPU-only build says so plainly.
#include <cstdio>
#include <string>

#include "tools/bench_kernels.h"
#include "tools/command.h"

using namespace srgan;

namespace {

int run(const cli::Args& a) {
  a.allow_only({"json", "quick", "filter"});
  if (a.positional().empty()) {
    std::fprintf(stderr, "srgan bench: say what to benchmark, e.g. `srgan bench kernels` (see --help)\n");
    return 2;
  }
  const std::string what = a.positional()[0];
  if (what == "kernels") {
#ifdef SRGAN_WITH_CUDA
    app::KernelBenchOptions opt;
    opt.json = a.get("json", "");
    opt.quick = a.has("quick");
    opt.filter = a.get("filter", "");
    return app::bench_kernels_cuda(opt);
#else
    std::fprintf(stderr,
                 "srgan bench kernels: this build has no CUDA (nvcc was not found or -DSRGAN_CUDA=OFF), "
                 "so there are no GPU kernels to time. Rebuild with CUDA to run it.\n");
    return 1;
#endif
  }
  std::fprintf(stderr, "srgan bench: unknown benchmark '%s' (known: kernels)\n", what.c_str());
  return 2;
}

SRGAN_COMMAND(cli::Command{
    "bench", "benchmarks: `srgan bench kernels` races our CUDA kernels against cuDNN/cuBLAS",
    "usage: srgan bench kernels [--json FILE] [--quick] [--filter TEXT]\n"
    "  Times each CUDA kernel variant (conv2d v1/v2/v3, batch norm, PReLU, pixel shuffle, GEMM,\n"
    "  Adam, ...) and its cuDNN/cuBLAS baseline on SRGAN's shapes with CUDA events: warm-up,\n"
    "  then the median of many runs, inputs rotated so caches do not flatter. Prints ms,\n"
    "  TFLOP/s or GB/s, the share of the card's measured peak (cuBLAS 8192^3 GEMM, 1 GiB\n"
    "  device-to-device copy) and the speed-up over the baseline.\n"
    "  --json FILE    also write every row (and the peaks) as JSON\n"
    "  --quick        fewer shapes and repetitions (a smoke run)\n"
    "  --filter TEXT  only ops whose name contains TEXT (e.g. conv, batchnorm)\n"
    "Needs a CUDA build and a GPU.",
    &run, {"quick"}});

}  // namespace
