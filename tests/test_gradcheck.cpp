// Finite-difference gradient checks in double for every differentiable op, over grids of shapes,
// strides, paddings, odd sizes and C=3. Inputs of ReLU-family ops and max pooling are drawn away
// from their kinks on purpose.
#include <algorithm>

#include "core/backend.h"
#include "tests/gradcheck.h"

using namespace srgan;
using namespace srgan::test;

namespace {
struct ConvCase {
  int N, H, W, C, K, R, stride, pad;
  bool bias;
};
const std::vector<ConvCase> kConvGrid = {
    {1, 5, 5, 3, 2, 3, 1, 1, true},   {2, 7, 6, 3, 4, 3, 1, 1, true},  {1, 8, 8, 4, 3, 3, 2, 1, false},
    {2, 7, 9, 2, 3, 3, 2, 0, true},   {1, 9, 9, 3, 2, 9, 1, 4, true},  {1, 6, 5, 4, 5, 1, 1, 0, false},
    {2, 5, 7, 1, 2, 5, 3, 2, true},   {1, 11, 10, 3, 2, 3, 2, 1, true}, {1, 4, 4, 5, 3, 2, 1, 0, true},
    {2, 4, 4, 8, 4, 1, 2, 0, false},  {3, 6, 6, 8, 3, 3, 2, 0, true},   {2, 7, 7, 6, 2, 2, 2, 0, true},  // K < C
    {1, 5, 7, 16, 16, 3, 1, 1, true}, {1, 6, 5, 16, 17, 3, 1, 2, false},  // Winograd applies (>= 16 channels)
};

struct CpuConvScope {  // restores the process-wide setting even when a REQUIRE ends the test
  explicit CpuConvScope(kern::CpuConvAlgo a) { backend().cpu_conv = a; }
  ~CpuConvScope() { backend().cpu_conv = BackendConfig().cpu_conv; }
};

void conv_grid(kern::CpuConvAlgo algo) {
  CpuConvScope scope(algo);
  Rng rng(7);
  for (auto c : kConvGrid) {
    INFO("N=" << c.N << " H=" << c.H << " W=" << c.W << " C=" << c.C << " K=" << c.K << " R=S=" << c.R
              << " stride=" << c.stride << " pad=" << c.pad << " bias=" << c.bias << " algo=" << kern::cpu_conv_algo_name(algo));
    std::vector<Tensor> in = {leaf({c.N, c.H, c.W, c.C}, rng), leaf({c.K, c.R, c.R, c.C}, rng),
                              c.bias ? leaf({c.K}, rng) : Tensor()};
    int s = c.stride, p = c.pad;
    SRGAN_REQUIRE_GRADCHECK(gradcheck([s, p](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], s, p); }, in));
  }
}
}  // namespace

TEST_CASE("conv2d gradient check (im2col + GEMM path)", "[gradcheck][conv2d]") { conv_grid(kern::CpuConvAlgo::im2col); }
TEST_CASE("conv2d gradient check (reference loops)", "[gradcheck][conv2d]") { conv_grid(kern::CpuConvAlgo::reference); }
TEST_CASE("conv2d gradient check (Winograd F(2x2) and F(4x4))", "[gradcheck][conv2d]") {
  conv_grid(kern::CpuConvAlgo::winograd_f2);
  conv_grid(kern::CpuConvAlgo::winograd_f4);
}

TEST_CASE("prelu gradient check", "[gradcheck][prelu]") {
  Rng rng(11);
  for (Shape s : {Shape{2, 3, 5, 3}, Shape{1, 4, 3, 4}, Shape{3, 7}}) {
    for (bool per_channel : {false, true}) {
      INFO("shape " << shape_str(s) << " per_channel=" << per_channel);
      int C = int(s.back());
      std::vector<Tensor> in = {away_from_zero(s, rng), leaf({per_channel ? C : 1}, rng, 0.1, 0.4)};
      SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return prelu(t[0], t[1]); }, in));
    }
  }
}

TEST_CASE("relu gradient check", "[gradcheck][relu]") {
  Rng rng(12);
  for (Shape s : {Shape{2, 3, 5, 3}, Shape{1, 7, 1, 2}}) {
    INFO("shape " << shape_str(s));
    SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return relu(t[0]); }, {away_from_zero(s, rng)}));
  }
}

TEST_CASE("leaky_relu gradient check", "[gradcheck][leaky_relu]") {
  Rng rng(13);
  for (double slope : {0.2, 0.01}) {
    INFO("slope " << slope);
    SRGAN_REQUIRE_GRADCHECK(gradcheck([slope](const std::vector<Tensor>& t) { return leaky_relu(t[0], slope); },
                                      {away_from_zero({2, 5, 3, 3}, rng)}));
  }
}

TEST_CASE("sigmoid gradient check", "[gradcheck][sigmoid]") {
  Rng rng(14);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return sigmoid(t[0]); }, {leaf({3, 7}, rng, -6, 6)}));
}

TEST_CASE("batch_norm gradient check (training and eval)", "[gradcheck][batch_norm]") {
  Rng rng(15);
  for (Shape s : {Shape{2, 3, 5, 3}, Shape{4, 1, 1, 5}, Shape{1, 7, 5, 2}}) {
    for (bool training : {true, false}) {
      INFO("shape " << shape_str(s) << " training=" << training);
      int C = int(s.back());
      Tensor rm = uniform_tensor({C}, rng, -0.5, 0.5, DType::f64);
      Tensor rv = uniform_tensor({C}, rng, 0.5, 1.5, DType::f64);
      std::vector<Tensor> in = {leaf(s, rng), leaf({C}, rng, 0.5, 1.5), leaf({C}, rng)};
      SRGAN_REQUIRE_GRADCHECK(gradcheck(
          [&rm, &rv, training](const std::vector<Tensor>& t) { return batch_norm(t[0], t[1], t[2], rm, rv, training, 0.1, 1e-5); },
          in));
    }
  }
}

TEST_CASE("pixel_shuffle gradient check", "[gradcheck][pixel_shuffle]") {
  Rng rng(16);
  for (int r : {2, 3}) {
    for (Shape s : {Shape{2, 3, 5, 4 * r * r / 4 * 1}, Shape{1, 2, 3, 3 * r * r}}) {
      if (s[3] % (r * r)) continue;
      INFO("shape " << shape_str(s) << " r=" << r);
      SRGAN_REQUIRE_GRADCHECK(gradcheck([r](const std::vector<Tensor>& t) { return pixel_shuffle(t[0], r); }, {leaf(s, rng)}));
    }
  }
}

TEST_CASE("max_pool2x2 gradient check", "[gradcheck][max_pool2x2]") {
  Rng rng(17);
  for (Shape s : {Shape{2, 4, 6, 3}, Shape{1, 5, 7, 2}}) {
    INFO("shape " << shape_str(s));
    // Distinct values 0.01 apart in random order: no ties, and h = 1e-6 never changes the arg-max.
    std::vector<double> v(size_t(shape_numel(s)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.01 * double(i);
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    Tensor x = Tensor::from_vector(v, s).set_requires_grad(true);
    SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return max_pool2x2(t[0]); }, {x}));
  }
}

TEST_CASE("linear gradient check", "[gradcheck][linear]") {
  Rng rng(18);
  for (bool bias : {true, false}) {
    INFO("bias=" << bias);
    std::vector<Tensor> in = {leaf({3, 7}, rng), leaf({5, 7}, rng), bias ? leaf({5}, rng) : Tensor()};
    SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); }, in));
  }
}

TEST_CASE("add, mul and scale gradient check", "[gradcheck][add][mul][scale]") {
  Rng rng(19);
  Shape s{2, 3, 4, 3};
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return add(t[0], t[1]); }, {leaf(s, rng), leaf(s, rng)}));
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return mul(t[0], t[1]); }, {leaf(s, rng), leaf(s, rng)}));
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return scale(t[0], -2.5); }, {leaf(s, rng)}));
}

TEST_CASE("sum and mean gradient check", "[gradcheck][sum][mean]") {
  Rng rng(20);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return sum(t[0]); }, {leaf({3, 5, 2}, rng)}));
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return mean(t[0]); }, {leaf({3, 5, 2}, rng)}));
}

TEST_CASE("reshape and channel_affine gradient check", "[gradcheck][reshape][channel_affine]") {
  Rng rng(21);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return mul(reshape(t[0], {6, 5}), t[1]); },
                                    {leaf({2, 3, 5}, rng), leaf({6, 5}, rng)}));
  Tensor sc = uniform_tensor({3}, rng, 0.5, 2.0, DType::f64), sh = uniform_tensor({3}, rng, -1, 1, DType::f64);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([sc, sh](const std::vector<Tensor>& t) { return channel_affine(t[0], sc, sh); },
                                    {leaf({2, 4, 3, 3}, rng)}));
}

TEST_CASE("mse_loss gradient check", "[gradcheck][mse_loss]") {
  Rng rng(22);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([](const std::vector<Tensor>& t) { return mse_loss(t[0], t[1]); },
                                    {leaf({2, 5, 3, 3}, rng), leaf({2, 5, 3, 3}, rng)}));
}

TEST_CASE("bce_with_logits gradient check", "[gradcheck][bce_with_logits]") {
  Rng rng(23);
  Tensor target = uniform_tensor({6, 1}, rng, 0.0, 1.0, DType::f64);
  SRGAN_REQUIRE_GRADCHECK(gradcheck([target](const std::vector<Tensor>& t) { return bce_with_logits(t[0], target); },
                                    {leaf({6, 1}, rng, -8, 8)}));
}

TEST_CASE("a small network composed of every op passes a gradient check", "[gradcheck][composite]") {
  Rng rng(24);
  Tensor rm = Tensor::zeros({8}, DType::f64), rv = Tensor::full({8}, 1.0, DType::f64);
  std::vector<Tensor> in = {leaf({2, 6, 6, 3}, rng), leaf({8, 3, 3, 3}, rng), leaf({8}, rng), leaf({8}, rng, 0.5, 1.5),
                            leaf({8}, rng),          leaf({1}, rng, 0.1, 0.3), leaf({1, 3 * 3 * 2}, rng)};
  auto f = [&rm, &rv](const std::vector<Tensor>& t) {
    Tensor h = conv2d(t[0], t[1], t[2], 1, 1);              // (2, 6, 6, 8)
    h = batch_norm(h, t[3], t[4], rm, rv, true, 0.1, 1e-5);  // (2, 6, 6, 8)
    h = prelu(h, t[5]);
    h = pixel_shuffle(h, 2);                                 // (2, 12, 12, 2)
    h = max_pool2x2(max_pool2x2(h));                         // (2, 3, 3, 2)
    h = reshape(h, {2, 18});
    Tensor logits = linear(h, t[6], Tensor());               // (2, 1)
    return bce_with_logits(logits, Tensor::full({2, 1}, 1.0, DType::f64));
  };
  SRGAN_REQUIRE_GRADCHECK(gradcheck(f, in, 3, 40, 1e-6, 1e-6, 1e-4));
}
