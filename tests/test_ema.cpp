// The weight average of tools/train/ema.h: starts as the model, follows
// ema = decay * ema + (1 - decay) * weights per update, and takes the live model's running
// statistics when used.
#include "core/ops.h"
#include "core/param_arena.h"
#include "core/random.h"
#include "models/srresnet.h"
#include "tests/test_common.h"
#include "tools/train/ema.h"

using namespace srgan;

TEST_CASE("the weight average follows its recurrence and copies running statistics", "[ema]") {
  Rng rng(3);
  SRResNet g(SRResNetConfig{1, 4}, rng);
  ParamArena arena;
  arena.adopt(g.parameters(), Device::cpu);
  app::WeightAverage ema(g, Device::cpu);
  const std::vector<float> w0 = arena.values().to_vector();
  std::vector<double> expect(w0.begin(), w0.end());
  Tensor live = arena.values();
  for (int step = 0; step < 3; ++step) {
    std::vector<float> w = srgan::test::random_vector<float>(w0.size(), 40 + step, -1.0, 1.0);
    live.copy_from(Tensor::from_vector(w, {int64_t(w.size())}));
    ema.update(arena, 0.75);
    for (size_t i = 0; i < w.size(); ++i) expect[i] = 0.75 * expect[i] + 0.25 * double(w[i]);
  }
  std::vector<float> got;
  for (auto& [name, p] : ema.model_as_is().named_parameters()) {
    const std::vector<float> v = p.to_vector();
    got.insert(got.end(), v.begin(), v.end());
  }
  // fp32 arithmetic over 3 updates of values in [-1, 1]: a few ulps
  SRGAN_REQUIRE_CLOSE(srgan::test::all_close(got, expect, 1e-6, 1e-6));
  // The live model's running statistics are copied in when the average is used.
  auto buffers = g.named_buffers();
  REQUIRE_FALSE(buffers.empty());
  Tensor rm = buffers[0].second;
  fill_(rm, 0.625);
  CHECK(ema.model(g).named_buffers()[0].second.to_vector() == rm.to_vector());
}
