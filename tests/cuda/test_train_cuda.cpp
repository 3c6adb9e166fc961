// Training steps and inference on CUDA against the CPU: app::pretrain_step (two steps) and
// app::gan_step (D update, then G update with the VGG54 content loss) on small seeded models
// (SRResNet 2x16, discriminator crop 32 width 4 dense 16, VGG19 phi54 / 16; batch 2, LR 8x8 ->
// HR 32x32), each as a float64 CPU reference, a float32 CPU copy and a float32 CUDA copy; compared:
// every loss term, every parameter after Adam, the gradients in the arenas, Adam's moments and the
// batch-norm running statistics (tolerances: model_compare.h). Then: the caching allocator reaches
// a steady state (steps 3..5 of training on CUDA make no cudaMalloc and hold the same live bytes),
// and the tiled upscaler gives the same image on CUDA as on the CPU with tiles that do not divide it.
// Also: a short pretrain with the BF16 kernels (--precision bf16) tracks the fp32 one.
#include <cmath>
#include <cstdio>
#include <functional>

#include "core/adam.h"
#include "core/backend.h"
#include "core/device.h"
#include "core/param_arena.h"
#include "tools/upscale/tiled_upscaler.h"
#include "tools/train/train_step.h"
#include "tests/cuda/model_compare.h"

using namespace srgan;
using namespace srgan::test;
using Norm = GroupCheck::Norm;

namespace {

const AlgoSet kFp32{"fp32 defaults", kern::ConvAlgo::v2_smem_tiled, kern::GemmAlgo::v1_smem_tiled,
                    kern::BatchNormAlgo::v1_two_pass, false};
constexpr double kRel = 1e-5;  // model_compare.h: fp32

// Adam with eps = 1e-3 instead of PyTorch's 1e-8: the update lr * m / (sqrt(v) + eps) is then a
// Lipschitz function of the gradient (|d update / d g| <= lr / eps = 1 at the first step), so a
// gradient that is zero in exact arithmetic (a conv bias feeding batch norm: ~1e-9 of rounding
// noise, different on every device) moves its parameter by ~1e-9, not by a random +-lr.
constexpr double kAdamLr = 1e-3, kAdamEps = 1e-3;

std::unique_ptr<SRResNet> make_g() { return tiny_generator(201); }
std::unique_ptr<Discriminator> make_d() { return tiny_discriminator(202); }
std::unique_ptr<VGG19Features> make_vgg() {
  Rng rng(203);
  auto v = std::make_unique<VGG19Features>(VGG19Config::phi54(16), rng);
  v->freeze();
  return v;
}

// A model's parameters in an arena on its device, with its Adam.
struct Trainable {
  ParamArena arena;
  std::unique_ptr<Adam> opt;
  Trainable(Module& m, Device d) {
    arena.adopt(m.parameters(), d);
    opt = std::make_unique<Adam>(arena, kAdamLr, 0.9, 0.999, kAdamEps);
  }
};

struct Batch {
  std::vector<float> lr = random_vector<float>(2 * 8 * 8 * 3, 301, 0.0, 1.0);
  std::vector<float> hr = random_vector<float>(2 * 32 * 32 * 3, 302, 0.0, 1.0);
  Tensor lr_t(DType t, Device d) const { return as(lr, {2, 8, 8, 3}, t, d); }
  Tensor hr_t(DType t, Device d) const { return as(hr, {2, 32, 32, 3}, t, d); }
};

const DType kDt[3] = {DType::f64, DType::f32, DType::f32};
const Device kDev[3] = {Device::cpu, Device::cpu, Device::cuda};

void compare_terms(const app::LossTerms (&t)[3]) {
  GroupCheck g("loss terms", Norm::max, kRel);
  REQUIRE(t[2].size() == t[0].size());
  for (size_t k = 0; k < t[0].size(); ++k) {
    REQUIRE(t[2][k].first == t[0][k].first);
    g.add(t[0][k].first, t[0][k].second, t[1][k].second, t[2][k].second);
  }
  g.check();
}

// Parameters (after the step), their gradients as the arena holds them, Adam's moments and the
// running statistics of one model.
template <typename M>
void compare_state(const char* what, Three<M>& m, Trainable* tr[3]) {
  std::string w(what);
  GroupCheck params(w + " parameters", Norm::max, kRel), grads(w + " gradients", Norm::max, kRel),
      moments(w + " Adam moments", Norm::max, kRel), stats(w + " running stats", Norm::max, kRel);
  auto p0 = m.ref->named_parameters(), p1 = m.cpu->named_parameters(), p2 = m.gpu->named_parameters();
  for (size_t k = 0; k < p0.size(); ++k) {
    params.add(p0[k].first, p0[k].second, p1[k].second, p2[k].second);
    grads.add(p0[k].first, p0[k].second.grad(), p1[k].second.grad(), p2[k].second.grad());
  }
  moments.add("exp_avg", tr[0]->opt->exp_avg(), tr[1]->opt->exp_avg(), tr[2]->opt->exp_avg());
  moments.add("exp_avg_sq", tr[0]->opt->exp_avg_sq(), tr[1]->opt->exp_avg_sq(), tr[2]->opt->exp_avg_sq());
  auto b0 = m.ref->named_buffers(), b1 = m.cpu->named_buffers(), b2 = m.gpu->named_buffers();
  for (size_t k = 0; k < b0.size(); ++k) stats.add(b0[k].first, b0[k].second, b1[k].second, b2[k].second);
  params.check();
  grads.check();
  moments.check();
  if (!b0.empty()) stats.check();
}

Module* at(Three<SRResNet>& t, int i) { return i == 0 ? t.ref.get() : i == 1 ? t.cpu.get() : t.gpu.get(); }

}  // namespace

TEST_CASE("pretrain_step on CUDA matches the CPU (two steps)", "[cuda][train]") {
  UseAlgos use(kFp32);
  Three<SRResNet> g(make_g);
  std::unique_ptr<Trainable> tr[3];
  for (int i = 0; i < 3; ++i) tr[i] = std::make_unique<Trainable>(*at(g, i), kDev[i]);
  Trainable* trp[3] = {tr[0].get(), tr[1].get(), tr[2].get()};
  CHECK(tr[2]->arena.values().is_cuda());
  Batch b;
  SRResNet* gs[3] = {g.ref.get(), g.cpu.get(), g.gpu.get()};
  for (int step = 1; step <= 2; ++step) {
    INFO("step " << step);
    std::printf("pretrain_step %d:\n", step);
    app::LossTerms t[3];
    for (int i = 0; i < 3; ++i) {
      gs[i]->train();
      t[i] = app::pretrain_step(*gs[i], *tr[i]->opt, b.lr_t(kDt[i], kDev[i]), b.hr_t(kDt[i], kDev[i]), LossWeights{});
    }
    compare_terms(t);
    compare_state("G", g, trp);
  }
}

TEST_CASE("gan_step with the VGG54 loss on CUDA matches the CPU", "[cuda][train]") {
  UseAlgos use(kFp32);
  Three<SRResNet> g(make_g);
  Three<Discriminator> d(make_d);
  Three<VGG19Features> v(make_vgg);
  SRResNet* gs[3] = {g.ref.get(), g.cpu.get(), g.gpu.get()};
  Discriminator* ds[3] = {d.ref.get(), d.cpu.get(), d.gpu.get()};
  VGG19Features* vs[3] = {v.ref.get(), v.cpu.get(), v.gpu.get()};
  std::unique_ptr<Trainable> tg[3], td[3];
  for (int i = 0; i < 3; ++i) {
    tg[i] = std::make_unique<Trainable>(*gs[i], kDev[i]);
    td[i] = std::make_unique<Trainable>(*ds[i], kDev[i]);
  }
  Trainable* tgp[3] = {tg[0].get(), tg[1].get(), tg[2].get()};
  Trainable* tdp[3] = {td[0].get(), td[1].get(), td[2].get()};
  Batch b;
  std::printf("gan_step:\n");
  app::LossTerms t[3];
  for (int i = 0; i < 3; ++i) {
    gs[i]->train();
    ds[i]->train();
    t[i] = app::gan_step({*gs[i], *ds[i], vs[i], *tg[i]->opt, *td[i]->opt, LossWeights{}}, b.lr_t(kDt[i], kDev[i]),
                         b.hr_t(kDt[i], kDev[i]));
  }
  compare_terms(t);
  compare_state("G", g, tgp);
  compare_state("D", d, tdp);
}

TEST_CASE("training on CUDA reaches an allocation steady state", "[cuda][train][allocator]") {
  UseAlgos use(kFp32);
  auto g = make_g();
  auto d = make_d();
  auto v = make_vgg();
  g->to(Device::cuda);
  d->to(Device::cuda);
  v->to(Device::cuda);
  Trainable tg(*g, Device::cuda), td(*d, Device::cuda);
  Batch b;
  const Tensor lr = b.lr_t(DType::f32, Device::cuda), hr = b.hr_t(DType::f32, Device::cuda);
  // One phase: 5 steps; from step 3 on, no cudaMalloc and the same live bytes after each step
  // (the loss terms are read back, as the training loop's log does, and dropped).
  auto phase = [&](const char* what, const std::function<app::LossTerms()>& step) {
    INFO(what);
    AllocatorStats after2;
    for (int s = 1; s <= 5; ++s) {
      {
        app::LossTerms t = step();
        for (auto& [name, term] : t) CHECK(std::isfinite(term.item()));
      }
      cuda_synchronize();
      const AllocatorStats now = allocator_stats();
      std::printf("%s step %d: cudaMalloc calls %lld, live %lld bytes, cached %lld bytes\n", what, s,
                  (long long)now.cuda_malloc_calls, (long long)now.live_bytes, (long long)now.cached_bytes);
      if (s == 2) after2 = now;
      if (s > 2) {
        INFO("step " << s);
        CHECK(now.cuda_malloc_calls == after2.cuda_malloc_calls);
        CHECK(now.live_bytes == after2.live_bytes);
      }
    }
  };
  phase("pretrain_step", [&] { return app::pretrain_step(*g, *tg.opt, lr, hr, LossWeights{}); });
  phase("gan_step", [&] { return app::gan_step({*g, *d, v.get(), *tg.opt, *td.opt, LossWeights{}}, lr, hr); });
}

namespace {
// The loss of each of `steps` pretrain steps of SRResNet 2x32 (32 channels, so the body and the
// upsamplers take the multistage tile paths: v4 in tf32, v5 in bf16) on one fixed batch, with the
// CUDA kernels of `precision` (core/backend.h).
std::vector<double> pretrain_losses(const std::string& precision, int steps) {
  const BackendConfig saved = backend();
  set_cuda_precision(precision);
  Rng rng(211);
  SRResNet g(SRResNetConfig{2, 32}, rng);
  g.to(Device::cuda);
  Trainable tr(g, Device::cuda);
  Batch b;
  const Tensor lr = b.lr_t(DType::f32, Device::cuda), hr = b.hr_t(DType::f32, Device::cuda);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    g.train();
    const app::LossTerms t = app::pretrain_step(g, *tr.opt, lr, hr, LossWeights{});
    losses.push_back(t.front().second.item());
  }
  backend() = saved;
  return losses;
}
}  // namespace

// BF16 keeps 8 significant bits of every convolution input (relative error <= 2^-8 each); over
// the generator's 9 convolutions the output moves by well under 1% and the MSE with it, and
// Adam's normalised steps keep the runs together. The bound, 2%, is about 9x the largest gap
// the emulator shows (2.2e-3 at step 4; the test prints the losses; TF32's gap is alike). The losses must also differ from the fp32 and TF32
// runs' (the BF16 kernels ran) and fall over the steps (the model learns the batch).
TEST_CASE("a short pretrain in BF16 tracks the fp32 one", "[cuda][train][bf16]") {
  constexpr int kSteps = 6;
  const auto f32 = pretrain_losses("fp32", kSteps), t32 = pretrain_losses("tf32", kSteps),
             b16 = pretrain_losses("bf16", kSteps);
  for (int s = 0; s < kSteps; ++s) {
    std::printf("pretrain step %d: fp32 %.6f  tf32 %.6f  bf16 %.6f (bf16 / fp32 - 1 = %+.2e)\n", s + 1, f32[s], t32[s],
                b16[s], b16[s] / f32[s] - 1);
    INFO("step " << s + 1 << ": fp32 " << f32[s] << ", bf16 " << b16[s]);
    CHECK(std::abs(b16[s] / f32[s] - 1) <= 0.02);
    CHECK(b16[s] != t32[s]);
    CHECK(b16[s] != f32[s]);
  }
  CHECK(f32.back() < 0.9 * f32.front());
  CHECK(b16.back() < 0.9 * b16.front());
}

TEST_CASE("tiled upscaling on CUDA matches the CPU", "[cuda][upscale]") {
  UseAlgos use(kFp32);
  auto gc = make_g(), gg = make_g();
  gg->to(Device::cuda);
  // A random 37x29 RGB image in [0, 1].
  data::ImageF img(37, 29, 3);
  img.data = random_vector<float>(img.size(), 401, 0.0, 1.0);
  auto run = [&](SRResNet& g, Device dev, app::TileOptions opt) {
    std::vector<float> out(size_t(37 * 4) * 29 * 4 * 3, NAN);  // (4H, 4W, 3), poisoned
    int next = 0;
    app::upscale_tiled(g, img, opt, dev, [&](int y, const float* row) {
      CHECK(y == next++);  // rows in order, each once
      std::copy(row, row + 37 * 4 * 3, out.begin() + size_t(y) * 37 * 4 * 3);
    }, "test image");
    CHECK(next == 29 * 4);
    return out;
  };
  for (app::TileOptions opt : {app::TileOptions{16, 6}, app::TileOptions{24, 8}, app::TileOptions{10, 4},
                               app::TileOptions{64, 0}}) {
    INFO("tile " << opt.tile << " overlap " << opt.overlap);
    const auto cpu = run(*gc, Device::cpu, opt), gpu = run(*gg, Device::cuda, opt);
    // The same fp32 network on two devices, outputs clamped to [0, 1], the blend the same host
    // code on both: our two CPU paths (BLAS, plain loops) differ by 6e-8 here, so 2e-6 leaves
    // 30x for another summation order; a misplaced tile or a wrong pixel is >= 1e-3.
    SRGAN_CHECK_CLOSE(all_close(gpu, cpu, 2e-6, 0.0));
    // The comparison means something only if the network does not saturate the clamp.
    size_t inside = 0;
    for (float x : cpu) inside += x > 0.0f && x < 1.0f;
    INFO(inside << " of " << cpu.size() << " outputs strictly inside (0, 1)");
    CHECK(inside > cpu.size() / 4);
  }
}
