// Training-step parity with PyTorch: the functions the training loop runs (tools/train/train_step.cpp:
// pretrain_step and gan_step) against tools/scripts/make_train_fixtures.py's float64 PyTorch reference on
// tiny seeded models (SRResNet 2 blocks width 8; discriminator crop 16 width 2 dense 8; a VGG19-shaped
// phi22 net with widths / 16), one fixed batch (N=2, LR 4x4 -> HR 16x16).
// Our models are re-homed to float64 before the weights are loaded, so both sides compute in double
// from the same float32-exact starting values. Checked: every loss term, every parameter gradient as
// the arena holds it after the step, every parameter's Adam update (after - before), and the
// batch-norm running statistics. Tolerances are |ours - ref| <= atol + rtol*|ref| (docs/testing_train_parity.md).
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "core/adam.h"
#include "core/param_arena.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "tests/module_f64.h"
#include "tests/test_common.h"
#include "tools/train/train_step.h"

using namespace srgan;
using srgan::test::to_f64;
using srgan::test::all_close;

namespace {

constexpr double kLr = 1e-3, kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;

// ---- tolerances, |ours - ref| <= atol + rtol*|ref| ----
// Losses: float64 both sides, stored as float64; sums of <= 1536 terms of size <= 1.
constexpr double kLossAtol = 1e-13, kLossRtol = 1e-10;
// Gradients: float64 both sides, the reference stored rounded to float32 (relative 6e-8, so rtol
// 1e-6); atol covers the float64 noise of gradients that are exactly zero in exact arithmetic
// (conv biases feeding training-mode batch norm: 1e-20..1e-15 on both sides).
constexpr double kGradAtol = 1e-12, kGradRtol = 1e-6;
// Adam updates (~lr = 1e-3): stored as float32 (relative 6e-8). Where |grad| << eps the first Adam
// step is -lr*g/eps, amplifying the gradients' float64 noise by lr/eps = 1e5: 1e-15 noise -> 1e-10.
constexpr double kUpdateAtol = 1e-9, kUpdateRtol = 1e-6;
// BN running statistics: float64 both sides and in the file; O(1) values. D's third forward (G step)
// runs after D's Adam step, whose updates of conv biases feeding batch norm are pure noise amplified
// (gradient exactly 0 in exact arithmetic, ~1e-15 in float64, so update = -lr*g/eps ~ 1e-10 and
// different on both sides); that bias shifts the batch mean one-to-one, and 0.1 of it reaches the
// running mean: ~1e-11.
constexpr double kStatAtol = 1e-10, kStatRtol = 1e-10;

std::string fixture(const std::string& name) { return std::string(SRGAN_FIXTURE_DIR) + "/train/" + name; }

Tensor get(const SafeTensors& f, const std::string& name) {
  Tensor t = f.find(name);
  INFO("fixture tensor " << name);
  REQUIRE(t.defined());
  return t;
}

// The worst error seen per group, printed at the end of each test case for the record.
struct Tally {
  struct Worst {
    double abs_err = 0, tol_used = 0;  // max |ours - ref|; max |ours - ref| / (atol + rtol*|ref|)
    std::string abs_at, tol_at;
  };
  std::map<std::string, Worst> worst;  // group -> worst
  std::set<std::string> used;          // fixture names compared
  void print(const char* title) const {
    std::printf("%s\n", title);
    for (auto& [g, w] : worst)
      std::printf("  %-9s max |err| %.3g (%s); largest share of the tolerance used %.3g (%s)\n", g.c_str(),
                  w.abs_err, w.abs_at.c_str(), w.tol_used, w.tol_at.c_str());
  }
};

void compare(Tally& tally, const std::string& group, const std::string& ref_name, const Tensor& got,
             const SafeTensors& ref_file, double atol, double rtol) {
  Tensor ref = get(ref_file, ref_name);
  tally.used.insert(ref_name);
  INFO(ref_name << ": ours " << shape_str(got.shape()) << " " << dtype_name(got.dtype()) << ", reference "
                << shape_str(ref.shape()));
  REQUIRE(got.defined());
  REQUIRE(got.shape() == ref.shape());
  std::vector<double> a = got.to_vector_f64(), b = ref.to_vector_f64();
  auto rep = all_close(a, b, atol, rtol);
  auto& w = tally.worst[group];
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(a[i] - b[i]), used = err / (atol + rtol * std::fabs(b[i]));
    if (!(err <= w.abs_err)) w.abs_err = err, w.abs_at = ref_name;
    if (!(used <= w.tol_used)) w.tol_used = used, w.tol_at = ref_name;
  }
  INFO(rep.message);
  CHECK(rep.ok);
}

void compare_terms(Tally& tally, const app::LossTerms& terms, const SafeTensors& ref) {
  for (auto& [name, t] : terms) compare(tally, "loss", "loss." + name, t, ref, kLossAtol, kLossRtol);
}

// Gradients (as the arena holds them) and updates (after - before) of every parameter of `m`.
void compare_params(Tally& tally, const Module& m, const std::map<std::string, Tensor>& before,
                    const SafeTensors& ref, const std::string& prefix) {
  for (auto& [n, p] : m.named_parameters()) {
    INFO("parameter " << prefix << n);
    REQUIRE(p.grad().defined());
    compare(tally, "grad", "grad." + prefix + n, p.grad(), ref, kGradAtol, kGradRtol);
    std::vector<double> a = p.to_vector_f64(), b = before.at(n).to_vector_f64();
    for (size_t i = 0; i < a.size(); ++i) a[i] -= b[i];
    compare(tally, "update", "update." + prefix + n, Tensor::from_vector(a, p.shape()), ref, kUpdateAtol,
            kUpdateRtol);
  }
  for (auto& [n, b] : m.named_buffers())
    compare(tally, "bn_stats", "after." + prefix + n, b, ref, kStatAtol, kStatRtol);
}

std::map<std::string, Tensor> snapshot(const Module& m) {
  std::map<std::string, Tensor> out;
  for (auto& [n, p] : m.named_parameters()) out[n] = p.clone();
  return out;
}

// Every tensor of the reference file was compared (nothing silently skipped).
void require_all_used(const Tally& tally, const SafeTensors& ref) {
  for (auto& [n, t] : ref.tensors) {
    INFO("reference tensor " << n << " has no counterpart in our step");
    CHECK(tally.used.count(n) == 1);
  }
}

struct Batch {
  Tensor lr, hr;  // (2, 4, 4, 3), (2, 16, 16, 3), float64
};

Batch load_batch() {
  SafeTensors f = load_safetensors(fixture("batch.safetensors"));
  CHECK(std::stod(f.metadata.at("adam_lr")) == kLr);
  CHECK(std::stod(f.metadata.at("eps")) == kEps);
  LossWeights w;  // the fixture was made with models/losses.h's defaults
  CHECK(std::stod(f.metadata.at("vgg_feature_scale")) == w.vgg_feature_scale);
  CHECK(std::stod(f.metadata.at("adversarial_weight")) == w.adversarial);
  return {get(f, "lr").to(DType::f64), get(f, "hr").to(DType::f64)};
}

std::unique_ptr<SRResNet> load_generator() {
  Rng rng(11);
  auto g = std::make_unique<SRResNet>(SRResNetConfig{2, 8}, rng);
  to_f64(*g);
  LoadReport rep = load_module(fixture("g_init.safetensors"), *g, true);
  auto cfg = srresnet_config_from_metadata(rep.metadata, "g_init");
  REQUIRE((cfg.blocks == 2 && cfg.width == 8));
  g->train();
  return g;
}

}  // namespace

TEST_CASE("SRResNet MSE step matches PyTorch", "[train][parity]") {
  Batch b = load_batch();
  auto g = load_generator();
  ParamArena arena;
  arena.adopt(g->parameters(), Device::cpu);
  REQUIRE(arena.values().dtype() == DType::f64);
  Adam opt(arena, kLr, kBeta1, kBeta2, kEps);
  auto before = snapshot(*g);

  app::LossTerms terms = app::pretrain_step(*g, opt, b.lr, b.hr, LossWeights{});

  SafeTensors ref = load_safetensors(fixture("pretrain_ref.safetensors"));
  Tally tally;
  compare_terms(tally, terms, ref);
  compare_params(tally, *g, before, ref, "");
  require_all_used(tally, ref);
  tally.print("SRResNet MSE step vs PyTorch (float64):");
}

TEST_CASE("SRGAN step (D then G, VGG loss) matches PyTorch", "[train][parity]") {
  Batch b = load_batch();
  auto g = load_generator();
  Rng rng(12);
  Discriminator d({16, 2, 8}, rng);
  to_f64(d);
  LoadReport drep = load_module(fixture("d_init.safetensors"), d, true);
  auto dcfg = discriminator_config_from_metadata(drep.metadata, "d_init");
  REQUIRE((dcfg.crop == 16 && dcfg.width == 2 && dcfg.dense == 8));
  d.train();
  VGG19Features vgg(VGG19Config::phi22(16), rng);
  to_f64(vgg);
  LoadReport vrep = load_module(fixture("vgg.safetensors"), vgg, true);
  VGG19Config vcfg = vgg19_config_from_metadata(vrep.metadata, "vgg");
  REQUIRE((vcfg.layer == VggLayer::conv2_2 && vcfg.after_relu && vcfg.width_divisor == 16));
  vgg.freeze();

  ParamArena g_arena, d_arena;
  g_arena.adopt(g->parameters(), Device::cpu);
  d_arena.adopt(d.parameters(), Device::cpu);
  Adam g_opt(g_arena, kLr, kBeta1, kBeta2, kEps), d_opt(d_arena, kLr, kBeta1, kBeta2, kEps);
  auto g_before = snapshot(*g), d_before = snapshot(d);

  app::LossTerms terms = app::gan_step({*g, d, &vgg, g_opt, d_opt, LossWeights{}}, b.lr, b.hr);

  SafeTensors ref = load_safetensors(fixture("gan_ref.safetensors"));
  Tally tally;
  compare_terms(tally, terms, ref);
  // D's gradients: the D step's plus what the G step's backward through D(SR) added (neither side
  // zeroes them in between); its running statistics moved three times (HR, SR.detach(), SR).
  compare_params(tally, *g, g_before, ref, "G.");
  compare_params(tally, d, d_before, ref, "D.");
  for (auto& [n, p] : vgg.named_parameters()) CHECK_FALSE(p.grad().defined());  // frozen
  require_all_used(tally, ref);
  tally.print("SRGAN step vs PyTorch (float64):");
}
