// ICNR initialisation of the generator's upsampler (models/srresnet.h, icnr_init): a new
// generator's upsampler blocks (conv3x3 F->4F, pixel shuffle x2, PReLU), run with the generator's
// own tensors, give an output constant within every 2x2 block for random inputs; without ICNR
// they do not; the rest of the initialisation is unchanged; a weights file overrides it.
#include <string>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/checkpoint.h"
#include "models/srresnet.h"
#include "tests/test_common.h"

using namespace srgan;

namespace {

Tensor param(const Module& m, const std::string& name) {
  for (auto& [n, t] : m.named_parameters())
    if (n == name) return t;
  FAIL("no parameter " << name);
  return {};
}

// Largest |y[2i+a, 2j+b] - y[2i, 2j]| over every 2x2 block, channel and image of y (N, H, W, C),
// relative to max |y|.
double block_spread(const Tensor& y) {
  const auto v = y.to_vector_f64();
  const int64_t N = y.dim(0), H = y.dim(1), W = y.dim(2), C = y.dim(3);
  auto at = [&](int64_t n, int64_t h, int64_t w, int64_t c) { return v[size_t(((n * H + h) * W + w) * C + c)]; };
  double spread = 0.0, top = 0.0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t c = 0; c < C; ++c) {
          top = std::max(top, std::fabs(at(n, h, w, c)));
          spread = std::max(spread, std::fabs(at(n, h, w, c) - at(n, h - h % 2, w - w % 2, c)));
        }
  return spread / top;
}

// The two upsampler blocks of `g` on random inputs of width `f`: the larger spread of the two.
double upsampler_spread(const SRResNet& g, int f, uint64_t seed) {
  NoGradGuard ng;
  Rng rng(seed);
  double worst = 0.0;
  for (int block : {0, 3}) {  // up.0-2 and up.3-5: conv, pixel shuffle, PReLU
    const std::string p = "up." + std::to_string(block);
    Tensor x = uniform_tensor({2, 5, 7, f}, rng, -1.0, 1.0);  // (N, h, w, F)
    Tensor y = conv2d(x, param(g, p + ".weight"), param(g, p + ".bias"), 1, 1);  // (N, h, w, 4F)
    y = prelu(pixel_shuffle(y, 2), param(g, "up." + std::to_string(block + 2) + ".weight"));  // (N, 2h, 2w, F)
    worst = std::max(worst, block_spread(y));
  }
  return worst;
}

}  // namespace

TEST_CASE("ICNR: a new generator's upsampler output is constant within every 2x2 block", "[models][icnr]") {
  for (int width : {8, 16}) {  // 16: the 3x3 layers take the Winograd path
    Rng rng(21);
    SRResNet g(SRResNetConfig{1, width}, rng);
    INFO("width " << width);
    // The four channels of a group go through the same arithmetic; the fast CPU paths may sum
    // them in different orders, so allow float rounding of a ~width*9-term sum.
    for (uint64_t seed : {1, 2, 3}) CHECK(upsampler_spread(g, width, seed) <= 1e-6);
    Rng rng2(21);
    SRResNet plain(SRResNetConfig{1, width, false}, rng2);
    CHECK(upsampler_spread(plain, width, 1) > 0.05);  // default init: a checkerboard from the start
  }
}

TEST_CASE("ICNR changes only the upsampler's replicated channels", "[models][icnr]") {
  Rng a(33), b(33);
  SRResNet icnr(SRResNetConfig{2, 8}, a), plain(SRResNetConfig{2, 8, false}, b);
  const NamedTensors pa = icnr.named_parameters(), pb = plain.named_parameters();
  REQUIRE(pa.size() == pb.size());
  int replicated = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    const auto& [name, t] = pa[i];
    INFO(name);
    const auto va = t.to_vector(), vb = pb[i].second.to_vector();
    const bool up_conv = name == "up.0.weight" || name == "up.0.bias" || name == "up.3.weight" || name == "up.3.bias";
    if (!up_conv) {
      CHECK(va == vb);  // the random stream is consumed as before: every other tensor is the same
      continue;
    }
    const size_t row = va.size() / size_t(t.dim(0));
    for (size_t k = 0; k < size_t(t.dim(0)); ++k)
      for (size_t j = 0; j < row; ++j) {
        REQUIRE(va[k * row + j] == va[(k - k % 4) * row + j]);  // the group's first channel
        if (k % 4 == 0) REQUIRE(va[k * row + j] == vb[k * row + j]);  // drawn as before
      }
    ++replicated;
  }
  CHECK(replicated == 4);
  Rng c(1);
  Conv2d odd(4, 6, 3, 1, 1, c);
  CHECK_THROWS_WITH(icnr_init(odd, 2), test::Contains("not a multiple of r*r = 4"));
}

TEST_CASE("ICNR: loading a weights file overrides the initialisation", "[models][icnr]") {
  const std::string file = std::string(SRGAN_SOURCE_DIR_FOR_TESTS) + "/models/pretrained/srresnet_x4.safetensors";
  const SRResNetConfig cfg = srresnet_config_from_metadata(load_safetensors(file).metadata, file);
  Rng a(5), b(6);
  SRResNetConfig plain_cfg = cfg;
  plain_cfg.icnr = false;
  SRResNet icnr(cfg, a), plain(plain_cfg, b);
  load_module(file, icnr);
  load_module(file, plain);
  const NamedTensors pa = icnr.named_parameters(), pb = plain.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].first);
    CHECK(pa[i].second.to_vector() == pb[i].second.to_vector());
  }
  // The trained upsampler is not ICNR-shaped (its groups differ), so nothing was left of the init.
  const auto w = param(icnr, "up.0.weight").to_vector();
  const size_t row = w.size() / size_t(param(icnr, "up.0.weight").dim(0));
  CHECK(!std::equal(w.begin(), w.begin() + long(row), w.begin() + long(row)));
}
