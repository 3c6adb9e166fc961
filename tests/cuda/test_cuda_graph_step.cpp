// CUDA graphs and the step runner on a GPU: a captured piece of work replays with new input
// values exactly as eager code computes them; training steps replayed as graphs (StepRunner,
// GraphMode::on) match eager steps on the same batches, for the pretrain and the GAN plan; the
// steady state makes no cudaMalloc; a segment that reads the host cannot be captured, and in
// automatic mode the runner says so and finishes the step eagerly with the right result.
#include <algorithm>
#include <cmath>
#include <map>

#include "core/autograd.h"
#include "core/cuda_graph.h"
#include "core/ops.h"
#include "core/random.h"
#include "tools/train/step_runner.h"
#include "tests/step_fixture.h"
#include "tests/test_common.h"

using namespace srgan;
using namespace srgan::app;
using srgan::test::all_close;
using srgan::test::Contains;

namespace {
using srgan::test::feed;
using srgan::test::SeededGenerator;
const Shape& kLr = srgan::test::kStepLr;
const Shape& kHr = srgan::test::kStepHr;

std::map<std::string, double> read(const LossTerms& t) {
  std::map<std::string, double> m;
  for (auto& [k, v] : t) m[k] = v.item();
  return m;
}

// The graph path runs the same kernels in the same order as the eager path, so the results are
// expected to agree to the last bit; the tolerance only leaves room for kernels whose float
// reductions use atomics (order-dependent rounding, ~1e-7 relative per step).
constexpr double kAtol = 1e-6, kRtol = 1e-5;
}  // namespace

TEST_CASE("a captured conv + PReLU replays new inputs like eager code", "[cuda][graph]") {
  Rng rng(3);
  Tensor x = uniform_tensor({2, 12, 12, 8}, rng, -1, 1, DType::f32, Device::cuda);
  Tensor w = uniform_tensor({16, 3, 3, 8}, rng, -0.3, 0.3, DType::f32, Device::cuda);
  Tensor b = uniform_tensor({16}, rng, -0.1, 0.1, DType::f32, Device::cuda);
  Tensor a = Tensor::full({16}, 0.25, DType::f32, Device::cuda);
  CudaStream stream;
  StreamGuard sg(stream.get());
  NoGradGuard ng;
  Tensor y_graph;
  CudaGraph g;
  (void)prelu(conv2d(x, w, b, 1, 1), a);  // warm-up: handles and workspace exist before capture
  g.capture([&] { y_graph = prelu(conv2d(x, w, b, 1, 1), a); });
  REQUIRE(g.ready());
  CHECK(g.node_count() >= 2);
  const int64_t mallocs = allocator_stats().cuda_malloc_calls;
  for (int round = 0; round < 3; ++round) {
    Tensor fresh = uniform_tensor(x.shape(), rng, -1, 1, DType::f32, Device::cuda);
    x.copy_from(fresh);  // same address, new values
    g.replay();
    std::vector<float> want = prelu(conv2d(x, w, b, 1, 1), a).to_vector();
    SRGAN_REQUIRE_CLOSE(all_close(y_graph.to_vector(), want, kAtol, kRtol));
  }
  CHECK(allocator_stats().cuda_malloc_calls - mallocs <= 3);  // only the eager references' first buffers
}

TEST_CASE("pretrain steps replayed as CUDA graphs match eager steps", "[cuda][graph]") {
  SeededGenerator a(7, 2, 16, Device::cuda), b(7, 2, 16, Device::cuda);
  StepRunner eager(Device::cuda, kLr, kHr, GraphMode::off), graph(Device::cuda, kLr, kHr, GraphMode::on);
  eager.set_plan(pretrain_plan(a.g.net, a.g.opt, eager.low_res(), eager.high_res(), LossWeights{}));
  graph.set_plan(pretrain_plan(b.g.net, b.g.opt, graph.low_res(), graph.high_res(), LossWeights{}));
  int64_t mallocs_before_last_steps = 0;
  for (int step = 0; step < 8; ++step) {
    if (step == 5) mallocs_before_last_steps = allocator_stats().cuda_malloc_calls;
    feed(eager, step, 11);
    feed(graph, step, 11);
    auto te = read(eager.step()), tg = read(graph.step());
    INFO("step " << step + 1 << ": " << graph.graph_status());
    REQUIRE(te.size() == tg.size());
    for (auto& [k, v] : te) CHECK(std::fabs(tg[k] - v) <= kAtol + kRtol * std::fabs(v));
  }
  CHECK(graph.graphs_active());
  CHECK_THAT(graph.graph_status(), Contains("captured at step 3"));
  SRGAN_REQUIRE_CLOSE(all_close(b.g.arena.values().to_vector(), a.g.arena.values().to_vector(), kAtol, kRtol));
  // Batch-norm running statistics advance once per replay, as in eager steps.
  auto ba = a.g.net.named_buffers(), bb = b.g.net.named_buffers();
  REQUIRE(ba.size() == bb.size());
  for (size_t i = 0; i < ba.size(); ++i)
    SRGAN_REQUIRE_CLOSE(all_close(bb[i].second.to_vector(), ba[i].second.to_vector(), kAtol, kRtol));
  CHECK(allocator_stats().cuda_malloc_calls == mallocs_before_last_steps);  // steady state: no cudaMalloc
}

TEST_CASE("GAN steps (D update, G update) replayed as CUDA graphs match eager steps", "[cuda][graph]") {
  srgan::test::SeededGan a(8, 2, 16, 8, 32, Device::cuda), b(8, 2, 16, 8, 32, Device::cuda);
  StepRunner eager(Device::cuda, kLr, kHr, GraphMode::off), graph(Device::cuda, kLr, kHr, GraphMode::on);
  eager.set_plan(gan_plan({a.g.net, a.d.net, nullptr, a.g.opt, a.d.opt, LossWeights{}}, eager.low_res(),
                          eager.high_res()));
  graph.set_plan(gan_plan({b.g.net, b.d.net, nullptr, b.g.opt, b.d.opt, LossWeights{}}, graph.low_res(),
                          graph.high_res()));
  for (int step = 0; step < 6; ++step) {
    feed(eager, step, 21);
    feed(graph, step, 21);
    auto te = read(eager.step()), tg = read(graph.step());
    INFO("step " << step + 1 << ": " << graph.graph_status());
    REQUIRE(te.size() == tg.size());
    for (auto& [k, v] : te) {
      INFO(k);
      CHECK(std::fabs(tg[k] - v) <= kAtol + kRtol * std::fabs(v));
    }
  }
  CHECK(graph.graphs_active());
  SRGAN_REQUIRE_CLOSE(all_close(b.g.arena.values().to_vector(), a.g.arena.values().to_vector(), kAtol, kRtol));
  SRGAN_REQUIRE_CLOSE(all_close(b.d.arena.values().to_vector(), a.d.arena.values().to_vector(), kAtol, kRtol));
}

TEST_CASE("a segment that reads the host is not captured, automatic mode falls back", "[cuda][graph]") {
  auto make = [](SRResNet& g, Adam& opt, const Tensor& lr, const Tensor& hr) {
    StepPlan p = pretrain_plan(g, opt, lr, hr, LossWeights{});
    auto inner = p.segments[0];
    p.segments[0] = [inner](LossTerms& out) {
      inner(out);
      (void)out[0].second.item();  // a host read: illegal inside a capture
    };
    return p;
  };
  SeededGenerator a(4, 1, 8, Device::cuda), b(4, 1, 8, Device::cuda);
  StepRunner eager(Device::cuda, kLr, kHr, GraphMode::off), fallback(Device::cuda, kLr, kHr, GraphMode::automatic);
  eager.set_plan(make(a.g.net, a.g.opt, eager.low_res(), eager.high_res()));
  fallback.set_plan(make(b.g.net, b.g.opt, fallback.low_res(), fallback.high_res()));
  for (int step = 0; step < 4; ++step) {
    feed(eager, step, 31);
    feed(fallback, step, 31);
    auto te = read(eager.step()), tf = read(fallback.step());
    for (auto& [k, v] : te) CHECK(std::fabs(tf[k] - v) <= kAtol + kRtol * std::fabs(v));
  }
  CHECK_FALSE(fallback.graphs_active());
  CHECK_THAT(fallback.graph_status(), Contains("capture failed"));
  SRGAN_REQUIRE_CLOSE(all_close(b.g.arena.values().to_vector(), a.g.arena.values().to_vector(), kAtol, kRtol));

  SeededGenerator c(4, 1, 8, Device::cuda);
  StepRunner strict(Device::cuda, kLr, kHr, GraphMode::on);
  strict.set_plan(make(c.g.net, c.g.opt, strict.low_res(), strict.high_res()));
  for (int step = 0; step < 2; ++step) {
    feed(strict, step, 31);
    strict.step();
  }
  feed(strict, 2, 31);
  CHECK_THROWS_WITH(strict.step(), Contains("capture failed"));
}
