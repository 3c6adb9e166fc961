// `srgan bench counters --network`: H100 time ESTIMATES of whole networks from the per-kernel ones.
// The SRResNet MSE step and the SRGAN step (VGG54), eager, at the batch and crop of
// ../shared/bench/anchor_gpu.py (16, 24->96), and SRResNet inference 510->2040, each run once in
// the CUDA emulator with its counters on, on the kernels of --precision (fp32, tf32 or bf16, as `bench
// steps` picks them). Every launch is then estimated like a kernel row's launch
// (bench_counters_model.h) and the row's estimate is their sum: launch gaps, the host and the
// overlap of kernels are not in it. The first step is the one counted (no warm-up: the emulator
// would run every block of it); its launches are those of every later eager step but for the
// optimizers' first use of their state.
#include <stdexcept>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/ops.h"
#include "core/random.h"
#include "models/srresnet.h"
#include "tools/cli/bench_counters.h"
#include "tools/cli/bench_step.h"

namespace srgan::app {

std::vector<Row> collect_network_rows(const CounterOptions& opt) {
#ifndef SRGAN_CUDA_EMU
  (void)opt;
  throw std::runtime_error(
      "network counters come from the CUDA emulator: run the emulated command line, "
      "build/tests/cuda_emu/srgan_emu bench counters --network");
#else
  std::vector<Row> rows;
  const BackendConfig saved = backend();
  set_cuda_precision(opt.precision);
  auto count = [&](const std::string& op, const std::string& shape, const std::function<void()>& run) {
    if (!opt.filter.empty() && op.find(opt.filter) == std::string::npos) return;
    Row r;
    r.op = op;
    r.shape = shape;
    r.variant = opt.precision + " (" + kern::conv_algo_name(backend().conv_algo) + ")";
    r.peak = opt.precision == "bf16" ? Peak::bf16 : opt.precision == "tf32" ? Peak::tf32 : Peak::fp32;
    count_row(r, run, opt.max_blocks);
    rows.push_back(std::move(r));
  };
  Rng rng(1);
  StepBenchOptions so;
  so.batch = opt.tiny ? 2 : 16;  // the discriminator's last batch norm needs more than one value
  so.hr = opt.tiny ? 16 : 96;
  const std::string step_shape = std::to_string(so.batch) + "x" + std::to_string(so.hr / 4) + "->" + std::to_string(so.hr);
  for (bool gan : {false, true}) {
    auto b = make_bench_step(gan, Device::cuda, so, GraphMode::off, rng);
    count(gan ? "srgan_step_vgg54" : "srresnet_mse_step", step_shape, [&] { b->step(rng); });
  }
  const int side = opt.tiny ? 8 : 510;
  SRResNet g({16, 64}, rng);
  g.to(Device::cuda);
  g.eval();
  Tensor x = uniform_tensor({1, side, side, 3}, rng, 0, 1, DType::f32, Device::cuda);
  count("srresnet_infer", "1x" + std::to_string(side) + "->" + std::to_string(4 * side), [&] {
    NoGradGuard ng;
    Tensor y = g(x);
  });
  backend() = saved;
  return rows;
#endif
}

}  // namespace srgan::app
