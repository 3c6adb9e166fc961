// `srgan bench <what>`: benchmarks. `kernels` races our CUDA kernels against cuDNN/cuBLAS
// (tools/cli/cmd_bench_cuda.cu, CUDA builds only); a CPU-only build says so plainly.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "core/backend.h"
#include "data/atomic_file.h"
#include "data/image_io.h"
#include "tools/cli/bench_counters.h"
#include "tools/cli/bench_kernels.h"
#include "tools/cli/bench_step.h"
#include "tools/cli/command.h"
#include "tools/upscale/tensor_image.h"

using namespace srgan;

namespace {

// `srgan bench steps`: whole-network inference and training steps (tools/cli/bench_step.h), the same
// work as ../shared/bench/anchor_cpu.py (CPU) and anchor_gpu.py (GPU).
int run_steps(const cli::Args& a) {
  app::StepBenchOptions o;
  o.device = app::parse_device(a.get("device", "auto"));
  const bool gpu = o.device == Device::cuda;
  o.batch = a.get_int32("batch", gpu ? 16 : 4);
  o.repeats = a.get_int32("repeats", gpu ? 20 : 5);
  o.warmup = gpu ? 3 : 1;
  o.gan = a.has("gan") || gpu;
  if (gpu) o.infer_sizes = {64, 128, 510};
  if (a.has("tiny")) {  // a smoke run of every row's code path (the CUDA emulator's test)
    o.batch = 2;  // the discriminator's last batch norm sees 1x1: one image would be one value
    o.hr = 16;
    o.repeats = 1;
    o.warmup = 0;
    o.step_warmup = 0;
    o.graph_warmup = 1;  // a graph row: one eager step, the capture, one timed replay
    o.infer_sizes = {8};
  }
  const std::string prec = a.get("precision", "all");
  if (prec == "all") {
    o.precisions = {"fp32", "tf32", "bf16"};
  } else if (is_precision_name(prec)) {
    o.precisions = {prec};
  } else {
    std::fprintf(stderr, "srgan bench steps: --precision must be fp32, tf32, bf16 or all, got '%s'\n", prec.c_str());
    return 2;
  }
  cli::apply_threads_option(a);
  const std::string conv = a.get("cpu-conv", kern::cpu_conv_algo_name(backend().cpu_conv));
  bool known = false;
  for (auto c : {kern::CpuConvAlgo::im2col, kern::CpuConvAlgo::winograd_f2, kern::CpuConvAlgo::winograd_f4})
    if (conv == kern::cpu_conv_algo_name(c)) backend().cpu_conv = c, known = true;
  if (!known) {
    std::fprintf(stderr, "srgan bench: unknown --cpu-conv '%s' (known: im2col, winograd2, winograd4)\n", conv.c_str());
    return 2;
  }
  std::printf("# srgan bench steps on %s, batch %d, median of %d runs; CPU GEMM: %s; CPU conv: %s\n",
              device_name(o.device), o.batch, o.repeats, cpu_gemm_library().c_str(), conv.c_str());
  std::fflush(stdout);
  std::string json = "{\"device\": \"" + std::string(device_name(o.device)) + "\"";
  app::bench_steps(o, [&](const app::StepBenchRow& r) {  // printed as measured: a time box keeps what is done
    if (!r.error.empty()) {
      std::printf("%-40s FAILED: %s\n", r.name.c_str(), r.error.c_str());
      std::fflush(stdout);
      json += ", \"" + r.name + "_error\": " + nlohmann::json(r.error).dump();
    } else {
      std::printf("%-40s %10.2f ms\n", r.name.c_str(), r.ms);
      std::fflush(stdout);
      json += ", \"" + r.name + "_ms\": " + std::to_string(r.ms);
    }
    if (a.has("json")) data::write_file_atomic(a.get("json", ""), json + "}\n");
  });
  return 0;
}

int run(const cli::Args& a) {
  a.allow_only({"json", "quick", "tiny", "once", "filter", "device", "batch", "repeats", "gan", "threads", "precision",
                "cpu-conv", "plot", "blocks", "sass-dir", "shape", "network"});
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
    opt.tiny = a.has("tiny");
    opt.once = a.has("once");
    opt.filter = a.get("filter", "");
    opt.shape = a.get("shape", "");
    return app::bench_kernels_cuda(opt);
#else
    std::fprintf(stderr,
                 "srgan bench kernels: this build has no CUDA (nvcc was not found or -DSRGAN_CUDA=OFF), "
                 "so there are no GPU kernels to time. Rebuild with CUDA to run it.\n");
    return 1;
#endif
  }
  if (what == "steps") return run_steps(a);
  if (what == "counters") {
    app::CounterOptions opt;
    opt.json = a.get("json", "");
    opt.plot = a.get("plot", "");
    opt.filter = a.get("filter", "");
    opt.shape = a.get("shape", "");
    opt.sass_dir = a.get("sass-dir", "");
    opt.quick = a.has("quick");
    opt.tiny = a.has("tiny");
    opt.network = a.has("network");
    opt.precision = a.get("precision", "tf32");
    check_precision_name(opt.precision);
    opt.max_blocks = a.get_int32("blocks", opt.network ? 8 : 48);
    if (opt.max_blocks < 0) {
      std::fprintf(stderr, "srgan bench counters: --blocks must be 0 (every block) or more\n");
      return 2;
    }
    return app::bench_counters(opt);
  }
  std::fprintf(stderr, "srgan bench: unknown benchmark '%s' (known: kernels, steps, counters)\n", what.c_str());
  return 2;
}

SRGAN_COMMAND(cli::Command{
    "bench", "benchmarks: CUDA kernels against cuDNN/cuBLAS; whole training steps and inference",
    "usage: srgan bench kernels [--json FILE] [--quick] [--filter TEXT] [--tiny] [--once]\n"
    "       srgan bench counters [--json FILE] [--plot FILE.png] [--filter TEXT] [--shape TEXT] [--quick]\n"
    "                            [--blocks N] [--tiny] [--network [--precision fp32|tf32|bf16]]\n"
    "       srgan bench steps [--device auto|cpu|cuda] [--batch N] [--repeats N] [--gan] [--json FILE]\n"
    "                         [--precision fp32|tf32|bf16|all] [--cpu-conv im2col|winograd2|winograd4] [--tiny]\n"
    "\n"
    "steps: SRResNet inference (64->256, 128->512; 510->2040 on a GPU), the SRResNet MSE training\n"
    "  step (batch 4 on the CPU, 16 on a GPU, 24->96) and, with --gan (always on a GPU), the SRGAN\n"
    "  step with the VGG54 loss, random weights: the work of ../shared/bench/anchor_*.py.\n"
    "  On a GPU each row runs in fp32 (CUDA cores), tf32 and bf16 (tensor cores; --precision picks), and\n"
    "  each training step both eager and replayed as CUDA graphs (_graph rows). Rows print as they\n"
    "  are measured, training steps first. --cpu-conv picks the CPU convolution for 3x3 stride-1\n"
    "  layers: im2col + GEMM, or Winograd F(2x2, 3x3) / F(4x4, 3x3) (the default).\n"
    "\n"
    "kernels:\n"
    "  Times each CUDA kernel variant (conv2d v1/v2/v3, batch norm, PReLU, pixel shuffle, GEMM,\n"
    "  Adam, ...) and its cuDNN/cuBLAS baseline on SRGAN's shapes with CUDA events: warm-up,\n"
    "  then the median of many runs, inputs rotated so caches do not flatter. Prints ms,\n"
    "  TFLOP/s or GB/s, the share of the card's measured peak (cuBLAS 8192^3 GEMM, 1 GiB\n"
    "  device-to-device copy) and the speed-up over the baseline. Before a row's time counts, its\n"
    "  outputs are checked against the baseline's (or, without one, the first variant's): max |diff|\n"
    "  / max |ref| over 1e-3 (1e-2 with TF32) fails the row (the err column).\n"
    "  --json FILE    also write every row (and the peaks) as JSON\n"
    "  --quick        fewer shapes and repetitions (a smoke run)\n"
    "  --filter TEXT  only ops whose name contains TEXT (e.g. conv, batchnorm)\n"
    "  --shape TEXT   only rows whose shape contains TEXT, or one of its '|'-separated parts\n"
    "                 (e.g. '9x9|x3 ': the generator's head and tail, the discriminator's first layer)\n"
    "  --once         one call per row at its real shape, no warm-up or repeats: for ncu and\n"
    "                 compute-sanitizer (ms is then one cold call)\n"
    "Needs a CUDA build and a GPU.\n"
    "\n"
    "counters (no GPU needed):\n"
    "  For every row of `kernels` (our variants; cuDNN/cuBLAS are not counted): from the SASS of\n"
    "  the built kernels (sm_90, cuobjdump) registers, shared memory, occupancy and the main loop's\n"
    "  instruction mix; from the CUDA emulator, per launch, global requests and 32-byte sectors,\n"
    "  shared-memory wavefronts per request, bytes, multiply-adds issued against useful; and an\n"
    "  H100 time ESTIMATE from both (model in docs/performance.md). The dynamic counts need the\n"
    "  emulated command line (build/tests/cuda_emu/srgan_emu); the nvcc build lists the SASS alone.\n"
    "  --blocks N     blocks counted per launch, evenly spaced, counts scaled to the grid (default\n"
    "                 48; 0 counts every block)\n"
    "  --shape TEXT   only rows whose shape contains TEXT (e.g. 9x9->3), or one of its '|' parts\n"
    "  --plot FILE    roofline picture (PNG, tools/scripts/plot_roofline.py, python3-matplotlib)\n"
    "  --sass-dir D   folder holding kernels_sm90.sass / .res (default: the build's)\n"
    "  --network      whole networks instead of kernel rows: the SRResNet MSE step and the SRGAN\n"
    "                 step (VGG54; batch 16, 24->96, eager) and 510->2040 inference, each the sum\n"
    "                 of its launches' estimates, with the kernels that weigh most (--blocks: 8)\n"
    "  --precision P  with --network: the fp32, tf32 or bf16 kernels (default tf32)\n"
    "\n"
    "--tiny (both): every shape cut down (batch 1 or 2, small sides) and one timed run per row, to\n"
    "  check that every row's code runs (it is how the CUDA emulator tests this command); the\n"
    "  figures mean nothing.",
    &run, {"quick", "gan", "tiny", "network", "once"}});

}  // namespace
