// Modules: PyTorch-style parameter names, train/eval behaviour of BatchNorm, parameter counts,
// the summary table, and SRResNet's output shape.
#include <set>

#include "core/autograd.h"
#include "core/ops.h"
#include "layers/layers.h"
#include "models/srresnet.h"
#include "tests/test_common.h"

using namespace srgan;

TEST_CASE("SRResNet parameter names follow the PyTorch reference model", "[layers][names]") {
  Rng rng(1);
  SRResNet g({2, 8}, rng);
  std::vector<std::string> names;
  for (auto& [n, t] : g.named_parameters()) names.push_back(n);
  // The order and names of ../shared/bench/srgan_torch.py's Generator.state_dict() (parameters only).
  std::vector<std::string> expected = {"head.0.weight", "head.0.bias", "head.1.weight"};
  for (int b = 0; b < 2; ++b)
    for (std::string s : {"c1.weight", "c1.bias", "b1.weight", "b1.bias", "p.weight", "c2.weight", "c2.bias",
                          "b2.weight", "b2.bias"})
      expected.push_back("body." + std::to_string(b) + "." + s);
  for (std::string s : {"mid.0.weight", "mid.0.bias", "mid.1.weight", "mid.1.bias", "up.0.weight", "up.0.bias",
                        "up.2.weight", "up.3.weight", "up.3.bias", "up.5.weight", "tail.weight", "tail.bias"})
    expected.push_back(s);
  REQUIRE(names == expected);
  std::set<std::string> buffers;
  for (auto& [n, t] : g.named_buffers()) buffers.insert(n);
  REQUIRE(buffers.count("body.1.b2.running_var") == 1);
  REQUIRE(buffers.count("mid.1.running_mean") == 1);
}

TEST_CASE("SRResNet upscales by 4 and has the paper's parameter count", "[layers][srresnet]") {
  Rng rng(2);
  SRResNet small({2, 8}, rng);
  Tensor y;
  {
    NoGradGuard ng;
    y = small(Tensor::zeros({2, 5, 7, 3}));
  }
  REQUIRE(y.shape() == Shape{2, 20, 28, 3});
  SRResNet full({16, 64}, rng);
  // 1,549,462 parameters for the 16-block, 64-wide SRResNet (torch: sum(p.numel()) of srgan_torch.Generator()).
  REQUIRE(full.parameter_count() == 1549462);
}

TEST_CASE("BatchNorm2d uses batch statistics in training and running ones in eval", "[layers][batchnorm]") {
  BatchNorm2d bn(2, 1e-5, 0.1);
  Tensor x = Tensor::from_vector(std::vector<float>{1, 10, 3, 20, 5, 30, 7, 40}, {1, 2, 2, 2});
  Tensor y = bn(x);
  auto v = y.to_vector();
  // channel 0 = {1,3,5,7}: mean 4, biased var 5 -> (1-4)/sqrt(5)
  REQUIRE(v[0] == Approx(-3.0 / std::sqrt(5.0 + 1e-5)).epsilon(1e-5));
  // running_mean = 0.9*0 + 0.1*4; running_var = 0.9*1 + 0.1*(unbiased 20/3)
  REQUIRE(bn.running_mean.to_vector()[0] == Approx(0.4));
  REQUIRE(bn.running_var.to_vector()[0] == Approx(0.9 + 0.1 * 20.0 / 3.0));
  bn.eval();
  auto e = bn(x).to_vector();
  REQUIRE(e[0] == Approx((1.0 - 0.4) / std::sqrt(0.9 + 0.1 * 20.0 / 3.0 + 1e-5)).epsilon(1e-5));
  REQUIRE(bn.running_mean.to_vector()[0] == Approx(0.4));  // eval does not update
}

TEST_CASE("summary lists every leaf layer with output shape, parameters and FLOPs", "[layers][summary]") {
  Rng rng(3);
  SRResNet g({1, 8}, rng);
  std::string s = g.summary({1, 6, 6, 3});
  INFO(s);
  REQUIRE(s.find("head.0") != std::string::npos);
  REQUIRE(s.find("body.0.c1") != std::string::npos);
  REQUIRE(s.find("(1, 24, 24, 3)") != std::string::npos);  // the tail's output
  REQUIRE(s.find("Conv2d") != std::string::npos);
  // head conv: 2 * 36 outputs * 8 channels * 81 * 3 = 139,968 FLOPs -> "140.0k"
  REQUIRE(s.find("140.0k") != std::string::npos);
  REQUIRE(g.is_training());  // summary restores the mode
}

TEST_CASE("Sequential names children by index and Linear/Flatten compose", "[layers][sequential]") {
  Rng rng(4);
  Sequential seq;
  seq.add(std::make_shared<Flatten>());
  seq.add(std::make_shared<Linear>(12, 5, rng));
  seq.add(std::make_shared<LeakyReLU>(0.2));
  auto names = seq.named_parameters();
  REQUIRE(names.size() == 2);
  REQUIRE(names[0].first == "1.weight");
  Tensor y = seq(Tensor::full({2, 2, 2, 3}, 0.5));
  REQUIRE(y.shape() == Shape{2, 5});
}
