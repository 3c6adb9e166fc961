// Whole-network step and inference timings (see bench_step.h).
#include "tools/bench_step.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "core/adam.h"
#include "core/autograd.h"
#include "core/device.h"
#include "core/ops.h"
#include "core/param_arena.h"
#include "core/random.h"
#include "models/discriminator.h"
#include "models/losses.h"
#include "models/srresnet.h"
#include "models/vgg19.h"

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

}  // namespace

std::vector<StepBenchRow> bench_steps(const StepBenchOptions& o) {
  std::vector<StepBenchRow> rows;
  Rng rng(1);
  const Device dev = o.device;
  const int lr_side = o.hr / 4;
  {  // inference (eval mode, no graph)
    SRResNet g({16, 64}, rng);
    g.to(dev);
    g.eval();
    for (int s : o.infer_sizes) {
      Tensor x = uniform_tensor({1, s, s, 3}, rng, 0, 1, DType::f32, dev);
      double ms = median_ms([&] { NoGradGuard ng; Tensor y = g(x); }, o.warmup, o.repeats);
      rows.push_back({"infer_" + std::to_string(s) + "to" + std::to_string(4 * s), ms});
    }
  }
  {  // SRResNet MSE step
    SRResNet g({16, 64}, rng);
    g.to(dev);
    ParamArena arena;
    arena.adopt(g.parameters(), dev);
    Adam opt(arena, 1e-4);
    Tensor lr = uniform_tensor({o.batch, lr_side, lr_side, 3}, rng, 0, 1, DType::f32, dev);
    Tensor hr = uniform_tensor({o.batch, o.hr, o.hr, 3}, rng, 0, 1, DType::f32, dev);
    double ms = median_ms([&] {
      opt.zero_grad();
      mse_loss(g(lr), hr).backward();
      opt.step();
    }, o.warmup, o.repeats);
    rows.push_back({"srresnet_mse_step_b" + std::to_string(o.batch) + "_" + std::to_string(lr_side) + "to" +
                        std::to_string(o.hr), ms});
  }
  if (o.gan) {  // SRGAN step: D update, then G update with VGG54 content + 1e-3 adversarial
    SRResNet g({16, 64}, rng);
    DiscriminatorConfig dc;
    dc.crop = o.hr;
    Discriminator d(dc, rng);
    VGG19Features vgg(VGG19Config::phi54(), rng);
    vgg.freeze();
    g.to(dev);
    d.to(dev);
    vgg.to(dev);
    ParamArena ga, da;
    ga.adopt(g.parameters(), dev);
    da.adopt(d.parameters(), dev);
    Adam og(ga, 1e-4), od(da, 1e-4);
    Tensor lr = uniform_tensor({o.batch, lr_side, lr_side, 3}, rng, 0, 1, DType::f32, dev);
    Tensor hr = uniform_tensor({o.batch, o.hr, o.hr, 3}, rng, 0, 1, DType::f32, dev);
    double ms = median_ms([&] {
      Tensor sr = g(lr);
      od.zero_grad();
      discriminator_loss(d, hr, sr).total.backward();
      od.step();
      og.zero_grad();
      generator_loss(sr, hr, &vgg, d(sr)).total.backward();
      og.step();
    }, o.warmup, o.repeats);
    rows.push_back({"srgan_step_b" + std::to_string(o.batch) + "_vgg54", ms});
  }
  return rows;
}

}  // namespace srgan::app
