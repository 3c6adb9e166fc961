// core/'s differentiable ops on CUDA tensors against the same ops on CPU float64 tensors: every op
// of core/ops.h, forward and backward through autograd with the same random upstream gradient,
// for every conv / GEMM / batch-norm algorithm that core/backend.h can select. This checks core's
// CUDA dispatch (argument order, shapes handed to the kernels, saved tensors, gradient routing),
// which the kernel tests cannot see; also gradient accumulation on the device, in-place ops and
// the Tensor basics (copies, views, factories) on CUDA, and the texture losses of models/losses.h
// composed of these ops. Tolerances are the kernel tests' formulas.
#include <functional>
#include <sstream>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/device.h"
#include "core/ops.h"
#include "models/losses.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan;
using namespace srgan::test;

namespace {

constexpr double u = 0x1p-24;  // float unit roundoff

// Restores the process-wide algorithm choice at scope exit.
struct BackendGuard {
  BackendConfig saved = backend();
  ~BackendGuard() { backend() = saved; }
};

struct In {
  Shape shape;
  std::vector<float> v;
  bool grad = true;
};
In input(const Shape& s, uint64_t seed, bool grad = true, double lo = -1.0, double hi = 1.0) {
  return {s, random_vector<float>(size_t(shape_numel(s)), seed, lo, hi), grad};
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs f on float64 CPU copies and float32 CUDA copies of the inputs, backpropagates the same
// random upstream gradient (values in [-1, 1]) through both, and compares the output (tolerance
// ty) and the gradient of every input that requires one (tolerance tg[i]).
void check_op(const std::string& what, const std::vector<In>& ins, const Fn& f, Tol ty, const std::vector<Tol>& tg) {
  INFO(what);
  std::vector<Tensor> c, g;
  bool any_grad = false;
  for (const In& in : ins) {
    c.push_back(Tensor::from_vector(to_double(in.v), in.shape, Device::cpu));
    g.push_back(Tensor::from_vector(in.v, in.shape, Device::cuda));
    c.back().set_requires_grad(in.grad);
    g.back().set_requires_grad(in.grad);
    any_grad = any_grad || in.grad;
  }
  Tensor yc = f(c), yg = f(g);
  REQUIRE(yg.is_cuda());
  REQUIRE(yg.shape() == yc.shape());
  {
    INFO("output " << shape_str(yg.shape()));
    SRGAN_CHECK_CLOSE(compare(yg.to_vector(), yc.to_vector_f64(), ty));
  }
  if (!any_grad) return;
  const auto gy = random_vector<float>(size_t(yc.numel()), 4242);
  yc.backward(Tensor::from_vector(to_double(gy), yc.shape(), Device::cpu));
  yg.backward(Tensor::from_vector(gy, yg.shape(), Device::cuda));
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!ins[i].grad) continue;
    INFO("gradient of input " << i << " " << shape_str(ins[i].shape));
    REQUIRE(g[i].grad().defined());
    CHECK(g[i].grad().is_cuda());
    SRGAN_CHECK_CLOSE(compare(g[i].grad().to_vector(), c[i].grad().to_vector_f64(), tg.at(i)));
  }
}

// One rounding of a float result of an exact-in-double expression of float inputs: half an ulp.
const Tol kOneRounding{0x1p-149, u};

const char* conv_name(kern::ConvAlgo a) { return kern::conv_algo_name(a); }
const char* gemm_name(kern::GemmAlgo a) {
  return a == kern::GemmAlgo::v1_smem_tiled ? "v1_smem_tiled" : a == kern::GemmAlgo::v2_tf32_mma ? "v2_tf32_mma" : "cublas";
}

}  // namespace

TEST_CASE("arithmetic ops on CUDA match float64 CPU", "[cuda][ops]") {
  const Shape s{3, 5, 7, 4};
  const int64_t n = shape_numel(s);
  check_op("add", {input(s, 1), input(s, 2)}, [](auto& t) { return add(t[0], t[1]); }, kOneRounding,
           {kOneRounding, kOneRounding});
  check_op("mul", {input(s, 3), input(s, 4)}, [](auto& t) { return mul(t[0], t[1]); }, kOneRounding,
           {kOneRounding, kOneRounding});
  // scale: float(s) is itself rounded, then one product: 2u.
  check_op("scale", {input(s, 5)}, [](auto& t) { return scale(t[0], -0.3); }, Tol{0x1p-149, 2 * u}, {Tol{0x1p-149, 2 * u}});
  // sum: double accumulation on both sides, one final rounding; mean rounds once more (x 1/n in float).
  const Tol tsum{double(n) * 0x1p-53 * double(n) + 0x1p-149, 2 * u};
  check_op("sum", {input(s, 6)}, [](auto& t) { return sum(t[0]); }, tsum, {kOneRounding});
  check_op("mean", {input(s, 7)}, [](auto& t) { return mean(t[0]); }, Tol{tsum.atol, 4 * u}, {Tol{0x1p-149, 2 * u}});
  check_op("reshape", {input(s, 8)}, [](auto& t) { return mul(reshape(t[0], {15, 28}), reshape(t[0], {15, 28})); },
           kOneRounding, {Tol{0x1p-149, 2 * u}});
  // channel_affine: x * scale + shift may be one fused rounding on the GPU: 1 ulp of values < 2.
  check_op("channel_affine", {input(s, 9), input({4}, 10, false), input({4}, 11, false)},
           [](auto& t) { return channel_affine(t[0], t[1], t[2]); }, Tol{2.4e-7, 0}, {kOneRounding});
}

TEST_CASE("in-place ops and gradient accumulation on CUDA", "[cuda][ops]") {
  const Shape s{2, 9, 4};
  const auto a = random_vector<float>(72, 20), b = random_vector<float>(72, 21);
  Tensor ac = Tensor::from_vector(to_double(a), s), bc = Tensor::from_vector(to_double(b), s);
  Tensor ag = Tensor::from_vector(a, s, Device::cuda), bg = Tensor::from_vector(b, s, Device::cuda);
  add_(ac, bc);
  add_(ag, bg);
  SRGAN_CHECK_CLOSE(compare(ag.to_vector(), ac.to_vector_f64(), kOneRounding));
  axpy_(ac, -0.75, bc);
  axpy_(ag, -0.75, bg);
  // Two roundings (or one fused) on values below 3.
  SRGAN_CHECK_CLOSE(compare(ag.to_vector(), ac.to_vector_f64(), Tol{4 * u * 3, 0}));
  fill_(ag, 0.5);
  SRGAN_CHECK_CLOSE(bitwise_equal(ag.to_vector(), std::vector<float>(72, 0.5f)));

  // x used twice in one graph, then a second backward on a new graph: the leaf gradient sums
  // 2x gy + gy (first graph) and 3 (second), then zero_grad clears it on the device.
  const auto xv = random_vector<float>(72, 22), gy = random_vector<float>(72, 23);
  Tensor x = Tensor::from_vector(xv, s, Device::cuda);
  x.set_requires_grad(true);
  add(mul(x, x), x).backward(Tensor::from_vector(gy, s, Device::cuda));
  sum(scale(x, 3.0)).backward();
  std::vector<double> expect(72);
  for (size_t i = 0; i < 72; ++i) expect[i] = 2.0 * xv[i] * gy[i] + gy[i] + 3.0;
  REQUIRE(x.grad().is_cuda());
  SRGAN_CHECK_CLOSE(compare(x.grad().to_vector(), expect, Tol{8 * u * 6, 0}));  // a few roundings of values < 6
  x.zero_grad();
  SRGAN_CHECK_CLOSE(bitwise_equal(x.grad().to_vector(), std::vector<float>(72, 0.f)));
}

TEST_CASE("Tensor basics on CUDA: copies and views and factories", "[cuda][ops]") {
  const auto v = random_vector<float>(60, 30);
  Tensor t = Tensor::from_vector(v, {5, 12}, Device::cuda);
  REQUIRE(t.is_cuda());
  SRGAN_CHECK_CLOSE(bitwise_equal(t.to_vector(), v));
  SRGAN_CHECK_CLOSE(bitwise_equal(t.to(Device::cpu).to(Device::cuda).to_vector(), v));
  Tensor c = t.clone();
  fill_(c, 1.0);
  SRGAN_CHECK_CLOSE(bitwise_equal(t.to_vector(), v));  // the clone is independent
  Tensor rows = t.narrow0(2, 2);                          // a view: writes reach t
  fill_(rows, -2.0);
  std::vector<float> expect = v;
  std::fill(expect.begin() + 24, expect.begin() + 48, -2.0f);
  SRGAN_CHECK_CLOSE(bitwise_equal(t.to_vector(), expect));
  Tensor d = Tensor::zeros({5, 12}, DType::f32, Device::cuda);
  d.copy_from(t);  // device to device
  SRGAN_CHECK_CLOSE(bitwise_equal(d.to_vector(), expect));
  d.copy_from(Tensor::from_vector(v, {5, 12}));  // host to device
  SRGAN_CHECK_CLOSE(bitwise_equal(d.to_vector(), v));
  SRGAN_CHECK_CLOSE(bitwise_equal(Tensor::full({7}, 1.25, DType::f32, Device::cuda).to_vector(), std::vector<float>(7, 1.25f)));
  SRGAN_CHECK_CLOSE(bitwise_equal(Tensor::zeros({1000}, DType::f32, Device::cuda).to_vector(), std::vector<float>(1000, 0.f)));
  CHECK(Tensor::scalar(3.5, DType::f32, Device::cuda).item() == 3.5);
  CHECK_THROWS(Tensor::zeros({2}, DType::f64, Device::cuda));  // CUDA tensors are f32 only
}

// The caching allocator is stream-ordered (core/device_cuda.cpp): a block freed after use on
// one stream is reused only by allocations on that stream, never by another stream whose work
// could run before the first stream's is done; a destroyed stream's blocks go to the legacy
// default stream. (A size no other test uses, so the cache has no such block to begin with.)
TEST_CASE("the caching allocator reuses a block only on the stream that allocated it", "[cuda][allocator][streams]") {
  const Shape shape{4099, 3};
  auto block_on = [&](kern::Stream s) {
    StreamGuard g(s);
    Tensor t = Tensor::zeros(shape, DType::f32, Device::cuda);
    return static_cast<const void*>(t.data<float>());  // freed (to the cache) on return
  };
  auto s1 = std::make_unique<CudaStream>();
  CudaStream s2;
  const void* p1 = block_on(s1->get());
  CHECK(block_on(s1->get()) == p1);  // the same stream: the cached block again
  CHECK(block_on(s2.get()) != p1);   // another stream: not that block
  CHECK(block_on(nullptr) != p1);    // nor the legacy stream while s1 lives
  s1.reset();  // destroyed: its blocks join the legacy stream's list (which holds one already)
  {
    Tensor a = Tensor::zeros(shape, DType::f32, Device::cuda), b = Tensor::zeros(shape, DType::f32, Device::cuda);
    CHECK((a.data<float>() == p1 || b.data<float>() == p1));
  }
  cuda_synchronize();
}

TEST_CASE("conv2d op on CUDA matches float64 CPU for every ConvAlgo", "[cuda][ops][conv2d]") {
  BackendGuard keep;
  struct Case { const char* what; Shape x, w; bool bias; int stride, pad; };
  const Case cases[] = {{"3x3 s1 p1", {2, 7, 6, 5}, {6, 3, 3, 5}, true, 1, 1},
                        {"3x3 s2 p1 no bias", {2, 9, 8, 4}, {8, 3, 3, 4}, false, 2, 1},
                        {"9x9 p4 3->8", {1, 10, 11, 3}, {8, 9, 9, 3}, true, 1, 4},
                        {"1x1 p0", {2, 4, 4, 6}, {3, 1, 1, 6}, true, 1, 0}};
  for (const kern::ConvVariant& v : kern::conv_variants()) {  // the variant table (conv2d.h)
    if (v.library && !baselines_available()) continue;
    const kern::ConvAlgo a = v.algo;
    backend().conv_algo = a;
    uint64_t seed = 40;
    for (const Case& c : cases) {
      const double R = double(c.w[1]) * double(c.w[2]);
      const double kf = R * double(c.x[3]), kd = R * double(c.w[0]);
      const double kw = double(c.x[0]) * double(c.x[1]) * double(c.x[2]);  // >= the output pixels
      // cuDNN may use Winograd/FFT: 10x looser (test_conv2d.cu); TF32: the sqrt(k) formula.
      // v4, v6 and v8 truncate to TF32 (2^-10 per input where v3 rounds, 2^-11): twice the TF32 bound.
      // v5: the BF16 bound.
      auto tol = [&](double k) {
        if (v.math == kern::ConvMath::bf16) return tol_bf16(k);
        Tol t = v.math == kern::ConvMath::tf32 ? tol_tf32(k) : tol_fp32(k);
        if (a == kern::ConvAlgo::v4_implicit_gemm_tf32_multistage || a == kern::ConvAlgo::v6_halo_tile_tf32 ||
            a == kern::ConvAlgo::v8_halo_wgmma_tf32)
          return Tol{2 * t.atol, 2 * t.rtol};
        return a == kern::ConvAlgo::cudnn ? Tol{10 * t.atol, 10 * t.rtol} : t;
      };
      std::vector<In> ins = {input(c.x, seed++), input(c.w, seed++)};
      if (c.bias) ins.push_back(input({c.w[0]}, seed++));
      std::vector<Tol> tg = {tol(kd), tol(kw), tol_fp32(kw)};
      tg.resize(ins.size());
      const int stride = c.stride, pad = c.pad;
      check_op(std::string("conv2d ") + c.what + " algo " + conv_name(a), ins,
               [=](auto& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), stride, pad); }, tol(kf + 1), tg);
    }
  }
}

TEST_CASE("activation, pooling and shuffle ops on CUDA match float64 CPU", "[cuda][ops]") {
  const Shape s{2, 6, 5, 8};
  // PReLU: one product per element (slope x), rounded once, or a copy; slope gradient: a sum of
  // M (per channel) or M*C (shared) products in fp32 partials.
  check_op("prelu shared", {input(s, 50), input({1}, 51, true, -0.5, 0.5)}, [](auto& t) { return prelu(t[0], t[1]); },
           kOneRounding, {kOneRounding, tol_fp32(480)});
  check_op("prelu per channel", {input(s, 52), input({8}, 53, true, -0.5, 0.5)},
           [](auto& t) { return prelu(t[0], t[1]); }, kOneRounding, {kOneRounding, tol_fp32(60)});
  check_op("relu", {input(s, 54)}, [](auto& t) { return relu(t[0]); }, kOneRounding, {kOneRounding});
  // leaky_relu: float(0.2) is rounded, then one product: 2u.
  check_op("leaky_relu", {input(s, 55)}, [](auto& t) { return leaky_relu(t[0], 0.2); }, Tol{0x1p-149, 2 * u},
           {Tol{0x1p-149, 2 * u}});
  // sigmoid: float exp against double exp, a few ulps (test_activation.cpp's bound).
  check_op("sigmoid", {input(s, 56, true, -6, 6)}, [](auto& t) { return sigmoid(t[0]); }, Tol{1e-6, 1e-6}, {Tol{1e-6, 1e-6}});
  // Selection and copies: exact.
  check_op("pixel_shuffle r2", {input({2, 3, 4, 12}, 57)}, [](auto& t) { return pixel_shuffle(t[0], 2); }, Tol{0, 0},
           {Tol{0, 0}});
  check_op("pixel_shuffle r3", {input({1, 2, 3, 18}, 58)}, [](auto& t) { return pixel_shuffle(t[0], 3); }, Tol{0, 0},
           {Tol{0, 0}});
  check_op("max_pool2x2 odd", {input({2, 7, 5, 3}, 59)}, [](auto& t) { return max_pool2x2(t[0]); }, Tol{0, 0}, {Tol{0, 0}});
}

TEST_CASE("batch_norm op on CUDA matches float64 CPU with its running statistics", "[cuda][ops][batchnorm]") {
  BackendGuard keep;
  const Shape s{2, 5, 4, 6};
  for (kern::BatchNormAlgo a :
       with_baselines<kern::BatchNormAlgo>({kern::BatchNormAlgo::v1_two_pass}, {kern::BatchNormAlgo::cudnn})) {
    backend().bn_algo = a;
    for (bool training : {true, false}) {
      INFO("bn algo " << int(a) << " training " << training);
      const auto rm0 = random_vector<float>(6, 60), rv0 = random_vector<float>(6, 61, 0.5, 2.0);
      Tensor rm_c = Tensor::from_vector(to_double(rm0), {6}), rv_c = Tensor::from_vector(to_double(rv0), {6});
      Tensor rm_g = Tensor::from_vector(rm0, {6}, Device::cuda), rv_g = Tensor::from_vector(rv0, {6}, Device::cuda);
      // test_batchnorm.cpp's tolerances (cuDNN 5x looser); x has mean ~1 (cancellation check).
      const bool dnn = a == kern::BatchNormAlgo::cudnn && training;
      const Tol te = dnn ? Tol{1e-4, 5e-5} : Tol{2e-5, 1e-5};
      check_op("batch_norm", {input(s, 62, true, -1.0, 3.0), input({6}, 63, true, 0.5, 1.5), input({6}, 64)},
               [&](auto& t) {
                 const bool f32 = t[0].dtype() == DType::f32;  // the CUDA side
                 return batch_norm(t[0], t[1], t[2], f32 ? rm_g : rm_c, f32 ? rv_g : rv_c, training, 0.1, 1e-5);
               },
               te, {te, tol_fp32(8.0 * 40), tol_fp32(40)});  // |dy * xhat| <~ 8, M = 40
      SRGAN_CHECK_CLOSE(compare(rm_g.to_vector(), rm_c.to_vector_f64(), Tol{1e-6, 1e-5}));
      SRGAN_CHECK_CLOSE(compare(rv_g.to_vector(), rv_c.to_vector_f64(), Tol{1e-6, 1e-5}));
    }
  }
}

TEST_CASE("linear and loss ops on CUDA match float64 CPU", "[cuda][ops]") {
  BackendGuard keep;
  for (kern::GemmAlgo a : with_baselines<kern::GemmAlgo>({kern::GemmAlgo::v1_smem_tiled, kern::GemmAlgo::v2_tf32_mma},
                                                         {kern::GemmAlgo::cublas})) {
    backend().gemm_algo = a;
    auto tol = [&](double k) { return a == kern::GemmAlgo::v2_tf32_mma ? tol_tf32(k) : tol_fp32(k); };
    const std::string an = gemm_name(a);
    check_op("linear " + an, {input({5, 37}, 70), input({9, 37}, 71), input({9}, 72)},
             [](auto& t) { return linear(t[0], t[1], t[2]); }, tol(38), {tol(9), tol(5), tol_fp32(5)});
    check_op("linear no bias, Out 1 " + an, {input({16, 64}, 73), input({1, 64}, 74)},
             [](auto& t) { return linear(t[0], t[1], Tensor()); }, tol(64), {tol(1), tol(16)});
  }
  // Losses: double accumulation, one rounding of the scalar; gradients: the same double
  // expression on both sides, rounded once (the device's exp may move it by one float ulp).
  const int64_t n = 2 * 8 * 8 * 3;
  const Tol ts{double(n) * 0x1p-53 * 4 + 0x1p-149, 2 * u}, tg{1e-12, 2 * u};
  check_op("mse_loss", {input({2, 8, 8, 3}, 75), input({2, 8, 8, 3}, 76, false, 0, 1)},
           [](auto& t) { return mse_loss(t[0], t[1]); }, ts, {tg});
  check_op("bce_with_logits", {input({4, 1}, 77, true, -30, 30), input({4, 1}, 78, false, 0, 1)},
           [](auto& t) { return bce_with_logits(t[0], t[1]); }, Tol{4 * 30 * 0x1p-53 + 0x1p-149, 2 * u}, {tg});
}

TEST_CASE("texture losses (models/losses.h) on CUDA match float64 CPU", "[cuda][ops][losses]") {
  // Composed of add, scale, relu, mean and conv2d (the default fp32 algorithm), with the Sobel
  // filter cached on the device. |d| in float: up to two roundings of values < 2, averaged.
  const Tol tl1{8 * u, 4 * u}, tgrad{0x1p-149, 2 * u};  // gradients: +-g/n, rounded once or twice
  check_op("l1_loss", {input({2, 5, 4, 3}, 90), input({2, 5, 4, 3}, 91)}, [](auto& t) { return l1_loss(t[0], t[1]); },
           tl1, {tgrad, tgrad});
  check_op("feature_matching_loss", {input({2, 4, 4, 3}, 92), input({2, 4, 4, 3}, 93, false), input({2, 2, 2, 5}, 94),
                                     input({2, 2, 2, 5}, 95, false)},
           [](auto& t) { return feature_matching_loss({t[0], t[2]}, {t[1], t[3]}); }, Tol{16 * u, 4 * u},
           {tgrad, tgrad, tgrad, tgrad});
  // Sobel maps: sums of 6 products of values in [0, 1] with weights k/8 (exact in float), then
  // the L1 above (seen in the emulator: 4e-9); the gradient sums up to 18 terms +-w * g/n of
  // ~3e-4 each, a few roundings of each (seen: 3e-11).
  check_op("gradient_l1_loss", {input({2, 8, 7, 3}, 96, true, 0, 1), input({2, 8, 7, 3}, 97, false, 0, 1)},
           [](auto& t) { return gradient_l1_loss(t[0], t[1]); }, Tol{16 * u, 4 * u}, {Tol{1e-9, 1e-5}});
}
