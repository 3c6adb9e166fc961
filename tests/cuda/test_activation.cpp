// ReLU, leaky ReLU, sigmoid and 2x2 max pooling on the GPU against the CPU reference, odd sizes
// (tails after the float4 body) and misaligned views, NaN-poisoned outputs.
#include "kernels/activation.h"
#include "kernels/maxpool.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;

TEST_CASE("activations CUDA match the CPU reference", "[cuda][activation]") {
  const int64_t sizes[] = {1, 3, 4, 5, 1023, 16 * 96 * 96 * 64 + 3};
  uint64_t seed = 1100;
  for (int64_t n : sizes) {
    for (Activation kind : {Activation::relu, Activation::leaky_relu, Activation::sigmoid}) {
      for (int offset : {0, 1}) {  // 1: views one float into the allocation (scalar path)
        INFO("n=" << n << " kind=" << int(kind) << " offset=" << offset);
        ActivationParams p;
        p.n = n;
        p.kind = kind;
        p.slope = 0.2;
        const auto x = random_vector<float>(size_t(n) + offset, seed++, -4.0, 4.0);
        const auto dy = random_vector<float>(size_t(n) + offset, seed++);
        std::vector<float> y_ref(n), dx_ref(n);
        activation_forward_cpu(p, x.data() + offset, y_ref.data());
        activation_backward_cpu(p, x.data() + offset, y_ref.data(), dy.data() + offset, dx_ref.data());
        DevBuf xb(x), dyb(dy), y(size_t(n) + offset), dx(size_t(n) + offset);
        y.poison();
        activation_forward_cuda(p, xb.get() + offset, y.get() + offset, nullptr);
        auto got = y.download();
        got.erase(got.begin(), got.begin() + offset);
        // ReLU and leaky ReLU are exact; sigmoid's exp differs by a few ulps between libraries.
        const double tol = kind == Activation::sigmoid ? 1e-6 : 0.0;
        SRGAN_CHECK_CLOSE(all_close(got, y_ref, tol, tol));
        // Backward from the reference forward output so both sides see the same y.
        DevBuf yr(size_t(n) + offset);
        std::vector<float> y_pad(size_t(n) + offset, 0.f);
        std::copy(y_ref.begin(), y_ref.end(), y_pad.begin() + offset);
        yr.upload(y_pad);
        dx.poison();
        activation_backward_cuda(p, xb.get() + offset, yr.get() + offset, dyb.get() + offset, dx.get() + offset, nullptr);
        got = dx.download();
        got.erase(got.begin(), got.begin() + offset);
        SRGAN_CHECK_CLOSE(all_close(got, dx_ref, tol, tol));
      }
    }
  }
}

TEST_CASE("maxpool 2x2 CUDA matches the CPU reference", "[cuda][maxpool]") {
  struct Case { int N, H, W, C; };
  const Case cases[] = {{1, 2, 2, 1}, {2, 5, 7, 3}, {1, 9, 8, 5}, {16, 96, 96, 64}, {16, 13, 13, 512}, {2, 1, 4, 2}};
  uint64_t seed = 1200;
  for (const Case& c : cases) {
    INFO("N=" << c.N << " H=" << c.H << " W=" << c.W << " C=" << c.C);
    MaxPoolParams p;
    p.N = c.N; p.H = c.H; p.W = c.W; p.C = c.C;
    const size_t nx = size_t(c.N) * c.H * c.W * c.C, ny = size_t(c.N) * p.P() * p.Q() * c.C;
    auto x = random_vector<float>(nx, seed++);
    // Plant ties so the first-maximum rule is exercised.
    for (size_t i = 0; i + 2 * size_t(c.C) < nx; i += 7) x[i + c.C] = x[i];
    const auto dy = random_vector<float>(ny, seed++);
    std::vector<float> y_ref(ny), dx_ref(nx);
    maxpool2x2_forward_cpu(p, x.data(), y_ref.data());
    maxpool2x2_backward_cpu(p, x.data(), dy.data(), dx_ref.data());
    DevBuf xb(x), dyb(dy), y(ny), dx(nx);
    y.poison();
    maxpool2x2_forward_cuda(p, xb, y, nullptr);
    SRGAN_CHECK_CLOSE(bitwise_equal(y.download(), y_ref));  // selection only: exact
    dx.poison();
    maxpool2x2_backward_cuda(p, xb, dyb, dx, nullptr);
    SRGAN_CHECK_CLOSE(bitwise_equal(dx.download(), dx_ref));
  }
}
