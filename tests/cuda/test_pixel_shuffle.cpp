// Pixel shuffle on the GPU against the CPU reference: a pure permutation, so bit-exact. Odd
// spatial sizes, r = 2 (float4 path), r = 3 (scalar path), SRGAN's 16x24x24x256 and
// 16x48x48x256, the goal shape 16x96x96x256, and a misaligned view (scalar path for r = 2).
#include "kernels/pixel_shuffle.h"
#include "tests/cuda/cuda_test_util.h"

using namespace srgan::kern;
using namespace srgan::test;

TEST_CASE("pixel shuffle CUDA matches the CPU reference", "[cuda][pixel_shuffle]") {
  struct Case { int N, H, W, C, r; };
  const Case cases[] = {{1, 1, 1, 4, 2},    {2, 3, 5, 8, 2},      {1, 7, 6, 12, 2},   {2, 5, 4, 18, 3},
                        {1, 3, 3, 9, 3},    {16, 24, 24, 256, 2}, {16, 48, 48, 256, 2}, {16, 96, 96, 256, 2}};
  uint64_t seed = 900;
  for (const Case& c : cases) {
    if (small_only() && double(c.N) * c.H * c.W * c.C > 100000) continue;
    INFO("N=" << c.N << " H=" << c.H << " W=" << c.W << " C=" << c.C << " r=" << c.r);
    PixelShuffleParams p;
    p.N = c.N; p.H = c.H; p.W = c.W; p.C = c.C; p.r = c.r;
    const size_t n = size_t(c.N) * c.H * c.W * c.C;
    const auto x = random_vector<float>(n, seed++), dy = random_vector<float>(n, seed++);
    std::vector<float> y_ref(n), dx_ref(n);
    pixel_shuffle_forward_cpu(p, x.data(), y_ref.data());
    pixel_shuffle_backward_cpu(p, dy.data(), dx_ref.data());
    DevBuf xb(x), dyb(dy), y(n), dx(n);
    y.poison();
    pixel_shuffle_forward_cuda(p, xb, y, nullptr);
    SRGAN_CHECK_CLOSE(bitwise_equal(y.download(), y_ref));  // a permutation: exact
    dx.poison();
    pixel_shuffle_backward_cuda(p, dyb, dx, nullptr);
    SRGAN_CHECK_CLOSE(bitwise_equal(dx.download(), dx_ref));
  }
}

TEST_CASE("pixel shuffle on misaligned views", "[cuda][pixel_shuffle]") {
  PixelShuffleParams p;
  p.N = 2; p.H = 5; p.W = 3; p.C = 16; p.r = 2;
  const size_t n = size_t(p.N) * p.H * p.W * p.C;
  std::vector<float> x = random_vector<float>(n + 1, 4), y_ref(n);
  pixel_shuffle_forward_cpu(p, x.data() + 1, y_ref.data());
  DevBuf xb(x), y(n + 1);
  y.poison();
  pixel_shuffle_forward_cuda(p, xb.get() + 1, y.get() + 1, nullptr);
  auto got = y.download();
  got.erase(got.begin());
  SRGAN_CHECK_CLOSE(bitwise_equal(got, y_ref));
  DevBuf dx(n + 1);
  std::vector<float> dx_ref(n);
  pixel_shuffle_backward_cpu(p, y_ref.data(), dx_ref.data());
  DevBuf yb(y_ref);
  dx.poison();
  pixel_shuffle_backward_cuda(p, yb, dx.get() + 1, nullptr);
  got = dx.download();
  got.erase(got.begin());
  SRGAN_CHECK_CLOSE(bitwise_equal(got, dx_ref));
}

TEST_CASE("pixel shuffle rejects C not divisible by r*r", "[cuda][pixel_shuffle]") {
  PixelShuffleParams p;
  p.N = 1; p.H = 2; p.W = 2; p.C = 6; p.r = 2;
  REQUIRE_THROWS(pixel_shuffle_forward_cuda(p, nullptr, nullptr, nullptr));
}
