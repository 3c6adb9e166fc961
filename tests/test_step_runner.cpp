// tools/train/step_runner.h on the CPU: steps fed through the runner's (double-buffered) host buffers
// give exactly the losses and weights of plain pretrain/GAN steps on the same batches; the graph
// modes are refused or ignored on the CPU as documented; and core's CUDA-graph API says clearly
// that it needs CUDA. (tests/cuda/test_cuda_graph_step.cpp holds replayed graphs against eager
// steps on a GPU.)
#include <algorithm>

#include "core/cuda_graph.h"
#include "core/random.h"
#include "tools/train/step_runner.h"
#include "tools/train/trainer.h"
#include "tests/step_fixture.h"
#include "tests/test_common.h"

using namespace srgan;
using namespace srgan::app;
using srgan::test::Contains;

namespace {
constexpr int kBatch = 2, kCrop = 32;
const Shape kLr{kBatch, kCrop / 4, kCrop / 4, 3}, kHr{kBatch, kCrop, kCrop, 3};
using srgan::test::batch_values;

double term(const LossTerms& t, const std::string& name) {
  for (auto& [k, v] : t)
    if (k == name) return v.item();
  FAIL("no loss term " << name);
  return 0.0;
}
}  // namespace

TEST_CASE("StepRunner pretrain steps equal plain steps on the same batches (CPU)", "[step_runner]") {
  srgan::test::SeededGenerator a(5, 1, 8, Device::cpu), b(5, 1, 8, Device::cpu);
  StepRunner r(Device::cpu, kLr, kHr, GraphMode::automatic);
  r.set_plan(pretrain_plan(b.g.net, b.g.opt, r.low_res(), r.high_res(), LossWeights{}));
  CHECK_FALSE(r.graphs_active());
  for (int step = 0; step < 4; ++step) {  // more than two steps: both host buffer pairs are reused
    std::vector<float> lr = batch_values(kLr, 100 + step), hr = batch_values(kHr, 200 + step);
    LossTerms ref = pretrain_step(a.g.net, a.g.opt, Tensor::from_vector(lr, kLr), Tensor::from_vector(hr, kHr), LossWeights{});
    std::copy(lr.begin(), lr.end(), r.low_res_host());
    std::copy(hr.begin(), hr.end(), r.high_res_host());
    LossTerms got = r.step();
    CHECK(term(got, "g_total") == term(ref, "g_total"));
    CHECK(term(got, "pixel_mse") == term(ref, "pixel_mse"));
  }
  CHECK(a.g.arena.values().to_vector() == b.g.arena.values().to_vector());
  CHECK_FALSE(r.graphs_active());
}

TEST_CASE("StepRunner GAN steps equal plain GAN steps (CPU)", "[step_runner]") {
  static_assert(kCrop == srgan::test::kStepCrop, "the discriminator is built for the fixture's crop");
  srgan::test::SeededGan a(9, 1, 8, 4, 16, Device::cpu), b(9, 1, 8, 4, 16, Device::cpu);
  StepRunner r(Device::cpu, kLr, kHr, GraphMode::off);
  r.set_plan(gan_plan({b.g.net, b.d.net, nullptr, b.g.opt, b.d.opt, LossWeights{}}, r.low_res(), r.high_res()));
  for (int step = 0; step < 3; ++step) {
    std::vector<float> lr = batch_values(kLr, 300 + step), hr = batch_values(kHr, 400 + step);
    LossTerms ref = gan_step({a.g.net, a.d.net, nullptr, a.g.opt, a.d.opt, LossWeights{}}, Tensor::from_vector(lr, kLr),
                             Tensor::from_vector(hr, kHr));
    std::copy(lr.begin(), lr.end(), r.low_res_host());
    std::copy(hr.begin(), hr.end(), r.high_res_host());
    LossTerms got = r.step();
    REQUIRE(got.size() == ref.size());
    for (auto& [name, t] : ref) CHECK(term(got, name) == t.item());
  }
  CHECK(a.g.arena.values().to_vector() == b.g.arena.values().to_vector());
  CHECK(a.d.arena.values().to_vector() == b.d.arena.values().to_vector());
}

TEST_CASE("StepRunner and CudaGraph refuse what they cannot do", "[step_runner]") {
  CHECK(parse_graph_mode("auto") == GraphMode::automatic);
  CHECK(parse_graph_mode("on") == GraphMode::on);
  CHECK(parse_graph_mode("off") == GraphMode::off);
  CHECK_THROWS_WITH(parse_graph_mode("yes"), Contains("--cuda-graph must be auto, on or off"));
  StepRunner r(Device::cpu, kLr, kHr, GraphMode::automatic);
  CHECK_THROWS_WITH(r.step(), Contains("before set_plan"));
  CHECK_THAT(r.graph_status(), Contains("eager"));
  CudaGraph g;
  CHECK_FALSE(g.ready());
  CHECK_THROWS_WITH(g.replay(), Contains("CUDA graph"));
  // On the legacy default stream (no StreamGuard), capture is refused before anything starts.
  if (!cuda_compiled()) CHECK_THROWS_WITH(g.capture([] {}), Contains("no CUDA support"));
  else CHECK_THROWS_WITH(g.capture([] {}), Contains("needs a created stream"));
}

TEST_CASE("srgan train --cuda-graph on is refused on the CPU", "[step_runner]") {
  TrainOptions o;
  o.data = SRGAN_SOURCE_DIR_FOR_TESTS "/docs/sample";
  o.device = "cpu";
  o.cuda_graph = "on";
  srgan::test::TempDir out("cuda_graph_on_cpu");
  o.out = out.file("run");
  o.quiet = true;
  CHECK_THROWS_WITH(train(o), Contains("--cuda-graph on needs a CUDA device"));
}
