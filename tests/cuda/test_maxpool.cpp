// 2x2 max pooling on the GPU against the double-precision CPU reference, beyond the basic case in
// test_activation.cpp: odd H and W (the dropped last row/column must get dx = 0), H or W of 1
// (no output at all), tie patterns (all four equal, pairs, +0.0 against -0.0, quantised values
// with many ties, -FLT_MAX), VGG19's four pooling shapes at batch 16, 16-byte-misaligned views,
// sentinel zones around every output (no write outside it), and NaN-poisoned outputs.
// Max pooling only selects and routes values, so every comparison is bit for bit.
#include <cfloat>

#include "kernels/maxpool.h"
#include "tests/cuda/cuda_guard.h"

using namespace srgan::kern;
using namespace srgan::test;

namespace {

enum class Fill { random, all_equal, pairs, signed_zeros, quantised, very_negative };
const char* fill_name(Fill f) {
  switch (f) {
    case Fill::random: return "random";
    case Fill::all_equal: return "all four equal";
    case Fill::pairs: return "pairs";
    case Fill::signed_zeros: return "+0/-0";
    case Fill::quantised: return "quantised";
    case Fill::very_negative: return "-FLT_MAX";
  }
  return "?";
}

// x (N, H, W, C) filled so that the windows have the requested kind of ties.
std::vector<float> make_input(const MaxPoolParams& p, Fill f, uint64_t seed) {
  const size_t n = size_t(p.N) * p.H * p.W * p.C;
  std::vector<float> x = random_vector<float>(n, seed);
  auto at = [&](int in, int h, int w, int c) -> float& { return x[((size_t(in) * p.H + h) * p.W + w) * p.C + c]; };
  for (int in = 0; in < p.N; ++in)
    for (int h = 0; h < p.H; ++h)
      for (int w = 0; w < p.W; ++w)
        for (int c = 0; c < p.C; ++c) {
          float& v = at(in, h, w, c);
          const float anchor = at(in, h & ~1, w & ~1, c);  // the window's first element
          switch (f) {
            case Fill::random: break;
            case Fill::all_equal: if ((h / 2 + w / 2 + c) % 2 == 0) v = anchor; break;
            case Fill::pairs: if (((h ^ w) & 1) == 0) v = anchor; break;  // diagonal pair ties
            case Fill::signed_zeros: v = (h + 2 * w + c) % 3 == 0 ? -0.0f : ((h * 7 + w + c) % 3 == 1 ? 0.0f : -std::fabs(v)); break;
            case Fill::quantised: v = std::floor(v * 2.0f);  break;  // {-2, -1, 0, 1}: ties everywhere
            case Fill::very_negative: v = (h + w + c) % 2 ? -FLT_MAX : -std::nextafter(FLT_MAX, 0.f); break;
          }
        }
  return x;
}

}  // namespace

TEST_CASE("maxpool 2x2 CUDA on odd sizes and ties and misaligned views with no stray writes", "[cuda][maxpool]") {
  struct Case { int N, H, W, C; };
  const Case cases[] = {{1, 2, 2, 1}, {2, 5, 7, 3}, {1, 9, 8, 5}, {3, 3, 3, 4}, {2, 7, 6, 8},   {1, 1, 4, 2},
                        {2, 4, 1, 3}, {1, 1, 1, 1}, {2, 11, 13, 64}, {1, 4, 4, 1030}, {16, 96, 96, 64},
                        {16, 48, 48, 128}, {16, 24, 24, 256}, {16, 12, 12, 512}};
  const Fill fills[] = {Fill::random, Fill::all_equal, Fill::pairs, Fill::signed_zeros, Fill::quantised,
                        Fill::very_negative};
  uint64_t seed = 9100;
  for (const Case& c : cases) {
    const size_t nx = size_t(c.N) * c.H * c.W * c.C;
    if (small_only() && nx > 100000) continue;
    const bool big = nx > 1000000;  // the VGG shapes: two tie patterns are enough there
    for (Fill f : fills) {
      if (big && f != Fill::random && f != Fill::quantised) continue;
      for (int shift : {0, 1}) {
        if (big && shift) continue;
        INFO("N=" << c.N << " H=" << c.H << " W=" << c.W << " C=" << c.C << " fill " << fill_name(f) << " shift " << shift);
        MaxPoolParams p;
        p.N = c.N; p.H = c.H; p.W = c.W; p.C = c.C;
        const size_t ny = size_t(c.N) * p.P() * p.Q() * c.C;
        const auto x = make_input(p, f, seed++);
        const auto dy = random_vector<float>(ny, seed++);
        const auto xd = to_double(x), dyd = to_double(dy);
        std::vector<double> y_ref(ny), dx_ref(nx);
        maxpool2x2_forward_cpu<double>(p, xd.data(), y_ref.data());
        maxpool2x2_backward_cpu<double>(p, xd.data(), dyd.data(), dx_ref.data());
        // Selection and routing in double give float-representable values: exact in float.
        const std::vector<float> y_f(y_ref.begin(), y_ref.end()), dx_f(dx_ref.begin(), dx_ref.end());
        Guarded xb(x, shift), dyb(dy, shift), y(ny, shift), dx(nx, shift);
        maxpool2x2_forward_cuda(p, xb, y, nullptr);
        // The double reference keeps the first maximum too, so even which of +0 / -0 wins matches.
        SRGAN_CHECK_CLOSE(same_bits(y.download(), y_f));
        SRGAN_CHECK_GUARDS(y);
        maxpool2x2_backward_cuda(p, xb, dyb, dx, nullptr);
        SRGAN_CHECK_CLOSE(same_bits(dx.download(), dx_f));
        SRGAN_CHECK_GUARDS(dx);
        // Inputs untouched (both are const).
        SRGAN_CHECK_CLOSE(same_bits(xb.download(), x));
        SRGAN_CHECK_GUARDS(xb);
      }
    }
  }
}

TEST_CASE("maxpool 2x2 CUDA backward writes zeros where no window reaches", "[cuda][maxpool]") {
  // H = W = 1: no output, so dx must be all zeros (and dy is never read: it is a null pointer).
  MaxPoolParams p;
  p.N = 3; p.H = 1; p.W = 1; p.C = 5;
  Guarded x(random_vector<float>(15, 1)), dx(15), y(1);
  maxpool2x2_forward_cuda(p, x, y, nullptr);  // nothing to write
  SRGAN_CHECK_GUARDS(y);
  maxpool2x2_backward_cuda(p, x, nullptr, dx, nullptr);
  SRGAN_CHECK_CLOSE(same_bits(dx.download(), std::vector<float>(15, 0.0f)));
  SRGAN_CHECK_GUARDS(dx);
  // N = 0 is a no-op; a negative size is an error.
  p.N = 0;
  maxpool2x2_forward_cuda(p, nullptr, nullptr, nullptr);
  maxpool2x2_backward_cuda(p, nullptr, nullptr, nullptr, nullptr);
  p.N = -1;
  CHECK_THROWS(maxpool2x2_forward_cuda(p, nullptr, nullptr, nullptr));
  CHECK_THROWS(maxpool2x2_backward_cuda(p, nullptr, nullptr, nullptr, nullptr));
}
