// Whole-network step and inference timings (see bench_step.h).
#include "tools/cli/bench_step.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "core/adam.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "core/check.h"
#include "core/device.h"
#include "core/ops.h"
#include "core/param_arena.h"
#include "core/random.h"
#include "models/discriminator.h"
#include "models/losses.h"
#include "models/srresnet.h"
#include "models/vgg19.h"
#include "tools/train/step_runner.h"
#include "tools/train/train_step.h"

namespace srgan::app {
namespace {

double median_ms(const std::function<void()>& f, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) f();
  cuda_synchronize();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    cuda_synchronize();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Median time of a benchmark step (the batch upload included). Graph runners get their eager
// steps and the capture step as warm-up, so every timed step is a replay; eager ones
// o.step_warmup (none in a --tiny smoke run, where each emulated GAN step costs a minute).
double time_steps(BenchStep& b, GraphMode mode, Rng& rng, const StepBenchOptions& o) {
  const int warmup = mode == GraphMode::off ? o.step_warmup : std::max(o.step_warmup, std::max(o.graph_warmup, 1) + 1);
  return median_ms([&] { b.step(rng); }, warmup, o.repeats);
}

struct MseBenchStep : BenchStep {  // SRResNet MSE step
  SRResNet g;
  ParamArena arena;
  std::unique_ptr<Adam> opt;
  std::unique_ptr<StepRunner> r;
  MseBenchStep(Device dev, const Shape& lr, const Shape& hr, GraphMode mode, int graph_warmup, Rng& rng)
      : g({16, 64}, rng) {
    g.to(dev);
    arena.adopt(g.parameters(), dev);
    opt = std::make_unique<Adam>(arena, 1e-4);
    r = std::make_unique<StepRunner>(dev, lr, hr, mode, graph_warmup);
    r->set_plan(pretrain_plan(g, *opt, r->low_res(), r->high_res(), LossWeights{}));
  }
  StepRunner& runner() override { return *r; }
};

struct GanBenchStep : BenchStep {  // SRGAN step: D update, then G update with VGG54 + 1e-3 adversarial
  SRResNet g;
  Discriminator d;
  VGG19Features vgg;
  ParamArena ga, da;
  std::unique_ptr<Adam> og, od;
  std::unique_ptr<StepRunner> r;
  static DiscriminatorConfig d_config(int crop) {
    DiscriminatorConfig dc;
    dc.crop = crop;
    return dc;
  }
  GanBenchStep(Device dev, const Shape& lr, const Shape& hr, GraphMode mode, int graph_warmup, Rng& rng)
      : g({16, 64}, rng), d(d_config(int(hr[1])), rng), vgg(VGG19Config::phi54(), rng) {
    vgg.freeze();
    g.to(dev);
    d.to(dev);
    vgg.to(dev);
    ga.adopt(g.parameters(), dev);
    da.adopt(d.parameters(), dev);
    og = std::make_unique<Adam>(ga, 1e-4);
    od = std::make_unique<Adam>(da, 1e-4);
    r = std::make_unique<StepRunner>(dev, lr, hr, mode, graph_warmup);
    r->set_plan(gan_plan({g, d, &vgg, *og, *od, LossWeights{}}, r->low_res(), r->high_res()));
  }
  StepRunner& runner() override { return *r; }
};

}  // namespace

// The first two steps fill both host buffer pairs with random data, which later steps upload again.
void BenchStep::step(Rng& rng) {
  StepRunner& r = runner();
  if (filled_ < 2) {
    const size_t lr_n = size_t(r.low_res().numel()), hr_n = size_t(r.high_res().numel());
    std::vector<float> lr = uniform_tensor(r.low_res().shape(), rng, 0, 1).to_vector();
    std::vector<float> hr = uniform_tensor(r.high_res().shape(), rng, 0, 1).to_vector();
    std::copy(lr.begin(), lr.begin() + long(lr_n), r.low_res_host());
    std::copy(hr.begin(), hr.begin() + long(hr_n), r.high_res_host());
    ++filled_;
  }
  r.step();
}

std::unique_ptr<BenchStep> make_bench_step(bool gan, Device dev, const StepBenchOptions& o, GraphMode mode, Rng& rng) {
  const int lr_side = o.hr / 4;
  const Shape lr{o.batch, lr_side, lr_side, 3}, hr{o.batch, o.hr, o.hr, 3};
  if (gan) return std::make_unique<GanBenchStep>(dev, lr, hr, mode, o.graph_warmup, rng);
  return std::make_unique<MseBenchStep>(dev, lr, hr, mode, o.graph_warmup, rng);
}

std::vector<StepBenchRow> bench_steps(const StepBenchOptions& o, const std::function<void(const StepBenchRow&)>& on_row) {
  std::vector<StepBenchRow> rows;
  // Times one row; a failure (a capture the driver refuses, a kernel error) becomes that row's
  // error and the benchmark goes on with the next row.
  auto measure = [&](const std::string& name, const std::function<double()>& timed) {
    StepBenchRow row{name, -1.0, ""};
    try {
      row.ms = timed();
    } catch (const std::exception& e) {
      row.error = e.what();
    }
    rows.push_back(row);
    if (on_row) on_row(rows.back());
  };
  Rng rng(1);
  const Device dev = o.device;
  const int lr_side = o.hr / 4;
  const BackendConfig saved = backend();
  std::vector<std::string> precisions = dev == Device::cuda ? o.precisions : std::vector<std::string>{""};
  // Eager steps, and on CUDA the same steps replayed as CUDA graphs.
  std::vector<std::pair<GraphMode, std::string>> modes = {{GraphMode::off, ""}};
  if (dev == Device::cuda) modes.push_back({GraphMode::on, "_graph"});
  auto mse_step_ms = [&](GraphMode mode) { return time_steps(*make_bench_step(false, dev, o, mode, rng), mode, rng, o); };
  auto gan_step_ms = [&](GraphMode mode) { return time_steps(*make_bench_step(true, dev, o, mode, rng), mode, rng, o); };
  for (const std::string& prec : precisions) {
    if (!prec.empty()) set_cuda_precision(prec);
    const std::string tag = prec.empty() ? "" : "_" + prec;
    for (auto& [mode, suffix] : modes)
      measure("srresnet_mse_step_b" + std::to_string(o.batch) + "_" + std::to_string(lr_side) + "to" +
                  std::to_string(o.hr) + tag + suffix,
              [&, m = mode] { return mse_step_ms(m); });
    if (o.gan)
      for (auto& [mode, suffix] : modes)
        measure("srgan_step_b" + std::to_string(o.batch) + "_vgg54" + tag + suffix, [&, m = mode] { return gan_step_ms(m); });
    // Inference (eval mode, no graph), largest size first.
    std::vector<int> sizes = o.infer_sizes;
    std::sort(sizes.rbegin(), sizes.rend());
    for (int s : sizes)
      measure("infer_" + std::to_string(s) + "to" + std::to_string(4 * s) + tag, [&] {
        SRResNet g({16, 64}, rng);
        g.to(dev);
        g.eval();
        Tensor x = uniform_tensor({1, s, s, 3}, rng, 0, 1, DType::f32, dev);
        return median_ms([&] { NoGradGuard ng; Tensor y = g(x); }, o.warmup, o.repeats);
      });
  }
  backend() = saved;
  return rows;
}

}  // namespace srgan::app
