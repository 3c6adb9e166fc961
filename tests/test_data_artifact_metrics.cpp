// Artefact metrics (data/artifact_metrics.h) on synthetic images whose answer is known in closed
// form: a 4-periodic pattern added to HR gives the pattern's own standard deviation, a constant
// offset gives that colour shift exactly, a gradient-halved copy gives a sharpness ratio of 1/2,
// a ramp gives its slope; plus gray images, alpha refused, a too-large border refused.
#include <cmath>
#include <cstdint>
#include <random>

#include "data/evaluate.h"
#include "data/metrics.h"
#include "tests/test_common.h"

using namespace srgan::data;

namespace {

// A random image with samples in [lo, hi], so adding small offsets never clips.
Image random_image(int w, int h, int c, int lo, int hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> u(lo, hi);
  Image img(w, h, c);
  for (auto& v : img.data) v = uint8_t(u(gen));
  return img;
}

// img + pattern[(y mod 4) * 4 + x mod 4] on every channel.
Image add_pattern(const Image& img, const int (&pattern)[16]) {
  Image out = img;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      for (int c = 0; c < img.channels; ++c) out.at(y, x, c) = uint8_t(img.at(y, x, c) + pattern[(y % 4) * 4 + x % 4]);
  return out;
}

// The population standard deviation of 16 numbers, written out directly.
double population_std(const int (&v)[16]) {
  double mean = 0.0;
  for (int x : v) mean += x;
  mean /= 16.0;
  double var = 0.0;
  for (int x : v) var += (x - mean) * (x - mean);
  return std::sqrt(var / 16.0);
}

const int kPattern[16] = {3, -2, 0, 5, -4, 1, 2, -1, 0, 0, -3, 4, 2, -5, 1, -3};

}  // namespace

TEST_CASE("artifacts: a 4-periodic pattern added to HR is measured as its own std", "[data][metrics][artifacts]") {
  const double expected = population_std(kPattern);  // 2.9474...
  SECTION("gray: Y is the sample, the phase means are the pattern") {
    const Image hr = random_image(40, 36, 1, 20, 230, 1);
    const Image sr = add_pattern(hr, kPattern);
    for (int border : {0, 3, 4, 5}) {  // phases follow the image's origin, whatever the border
      INFO("border " << border);
      const Quality q = evaluate_pair(hr, sr, border, LumaMode::Uint8, 4);
      // Integer residuals averaged per phase and a 16-term std in double: rounding only.
      CHECK(std::fabs(q.artifacts.fixed_pattern - expected) <= 1e-12);
      CHECK(std::fabs(fixed_pattern_amplitude(luma_bt601(hr), luma_bt601(sr), border, 4) - expected) <= 1e-12);
    }
  }
  SECTION("RGB, unrounded Y: the same offset d on R, G, B moves Y by d * 219 / 255") {
    const Image hr = random_image(32, 28, 3, 20, 230, 2);
    const Image sr = add_pattern(hr, kPattern);
    const double got =
        fixed_pattern_amplitude(luma_bt601(hr, LumaMode::Double), luma_bt601(sr, LumaMode::Double), 4, 4);
    // Y is affine in RGB with weights summing to 219/255; double rounding of ~1e3-sized sums.
    CHECK(std::fabs(got - expected * 219.0 / 255.0) <= 1e-9);
  }
  SECTION("a constant offset and identical images have no fixed pattern") {
    const Image hr = random_image(24, 24, 3, 20, 230, 3);
    Image sr = hr;
    for (auto& v : sr.data) v = uint8_t(v + 7);
    CHECK(evaluate_pair(hr, hr, 4).artifacts.fixed_pattern == 0.0);
    const ImageD yh = luma_bt601(hr, LumaMode::Double), ys = luma_bt601(sr, LumaMode::Double);
    CHECK(std::fabs(fixed_pattern_amplitude(yh, ys, 4, 4)) <= 1e-12);  // each phase mean is 7 * 219/255, rounded
  }
  SECTION("a 2x2 checkerboard of +-a has amplitude a at period 4 and period 2") {
    const Image hr = random_image(20, 20, 1, 20, 230, 4);
    Image sr = hr;
    for (int y = 0; y < 20; ++y)
      for (int x = 0; x < 20; ++x) sr.at(y, x, 0) = uint8_t(hr.at(y, x, 0) + (((y + x) & 1) ? 6 : -6));
    CHECK(std::fabs(fixed_pattern_amplitude(luma_bt601(hr), luma_bt601(sr), 2, 4) - 6.0) <= 1e-12);
    CHECK(std::fabs(fixed_pattern_amplitude(luma_bt601(hr), luma_bt601(sr), 2, 2) - 6.0) <= 1e-12);
  }
}

TEST_CASE("artifacts: a constant offset per channel is that colour shift", "[data][metrics][artifacts]") {
  const Image hr = random_image(30, 26, 3, 20, 230, 5);
  Image sr = hr;
  const int offset[3] = {-2, 1, 3};
  for (size_t i = 0; i < sr.size(); ++i) sr.data[i] = uint8_t(hr.data[i] + offset[i % 3]);
  const Quality q = evaluate_pair(hr, sr, 4);
  REQUIRE(q.artifacts.colour_shift.size() == 3);
  for (int c = 0; c < 3; ++c) CHECK(q.artifacts.colour_shift[c] == double(offset[c]));  // integer sums: exact

  // Changes inside the border do not count.
  Image framed = hr;
  for (int x = 0; x < hr.width; ++x) framed.at(0, x, 0) = 0;
  for (double v : colour_shift(hr, framed, 1)) CHECK(v == 0.0);
  // One pixel of the region 30 levels brighter in G: 30 / region pixels.
  Image one = hr;
  one.at(10, 10, 1) = uint8_t(hr.at(10, 10, 1) + 30);
  CHECK(std::fabs(colour_shift(hr, one, 4)[1] - 30.0 / (22.0 * 18.0)) <= 1e-15);

  SECTION("gray: one value") {
    const Image g = random_image(20, 20, 1, 20, 230, 6);
    Image gs = g;
    for (auto& v : gs.data) v = uint8_t(v - 5);
    const std::vector<double> shift = evaluate_pair(g, gs, 4).artifacts.colour_shift;
    REQUIRE(shift.size() == 1);
    CHECK(shift[0] == -5.0);
  }
}

TEST_CASE("artifacts: Sobel gradient of a ramp, sharpness of copies, halved and blurred images",
          "[data][metrics][artifacts]") {
  // A ramp 3x + 2y: the normalised Sobel gives (3, 2) at every inner pixel.
  ImageD ramp(30, 20, 1);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 30; ++x) ramp.at(y, x, 0) = 3.0 * x + 2.0 * y;
  CHECK(std::fabs(mean_gradient_magnitude(ramp) - std::sqrt(13.0)) <= 1e-12);  // sums of ~1e3-sized terms

  const Image hr = random_image(40, 32, 1, 0, 100, 7);
  Image even = hr, half = hr;  // even = 28 + 2u, half = 78 + u: every difference exactly halved
  for (size_t i = 0; i < hr.size(); ++i) {
    even.data[i] = uint8_t(28 + 2 * hr.data[i]);
    half.data[i] = uint8_t(78 + hr.data[i]);
  }
  CHECK(evaluate_pair(even, even, 4).artifacts.sharpness == 1.0);
  CHECK(std::fabs(evaluate_pair(even, half, 4).artifacts.sharpness - 0.5) <= 1e-12);  // sqrt of exact quarters
  CHECK(std::fabs(sharpness_ratio(luma_bt601(half), luma_bt601(even), 4) - 2.0) <= 1e-12);

  // RGB, unrounded Y: Y is affine in RGB, so halving every channel's differences halves Y's.
  const Image rgb = random_image(24, 24, 3, 0, 100, 8);
  Image rgb_even = rgb, rgb_half = rgb;
  for (size_t i = 0; i < rgb.size(); ++i) {
    rgb_even.data[i] = uint8_t(28 + 2 * rgb.data[i]);
    rgb_half.data[i] = uint8_t(78 + rgb.data[i]);
  }
  CHECK(std::fabs(sharpness_ratio(luma_bt601(rgb_even, LumaMode::Double), luma_bt601(rgb_half, LumaMode::Double), 4) -
                  0.5) <= 1e-12);  // Y differences are exact halves up to double rounding

  // A 3x3 box blur of noise keeps far less gradient.
  Image blurred = hr;
  for (int y = 1; y < hr.height - 1; ++y)
    for (int x = 1; x < hr.width - 1; ++x) {
      int s = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) s += hr.at(y + dy, x + dx, 0);
      blurred.at(y, x, 0) = uint8_t((s + 4) / 9);
    }
  const double r = evaluate_pair(hr, blurred, 4).artifacts.sharpness;
  CHECK(r > 0.0);
  CHECK(r < 0.6);  // white noise through a 3x3 box: its gradient energy falls several-fold

  // A flat original has no gradient to compare with.
  const Image flat(20, 20, 1, 128);
  CHECK(std::isnan(evaluate_pair(flat, crop(hr, 0, 0, 20, 20), 4).artifacts.sharpness));
}

TEST_CASE("artifacts: shapes, alpha and borders that leave too little are refused", "[data][metrics][artifacts]") {
  const Image hr = random_image(16, 16, 3, 0, 255, 9);
  CHECK_THROWS_AS(evaluate_pair(hr, crop(hr, 0, 0, 12, 16), 4), std::runtime_error);
  CHECK_THROWS_AS(colour_shift(hr, crop(hr, 0, 0, 12, 16), 0), std::runtime_error);
  const Image rgba = random_image(16, 16, 4, 0, 255, 10);
  CHECK_THROWS_AS(evaluate_pair(rgba, rgba, 4), std::runtime_error);  // drop alpha first
  const ImageD y = luma_bt601(hr);
  // 16 - 2*7 = 2 < 4: not every phase is in the region.
  CHECK_THROWS_WITH(fixed_pattern_amplitude(y, y, 7, 4), srgan::test::Contains("border 7"));
  CHECK_THROWS_AS(fixed_pattern_amplitude(y, y, 8, 4), std::runtime_error);
  CHECK_THROWS_AS(fixed_pattern_amplitude(y, y, -1, 4), std::runtime_error);
  CHECK_THROWS_AS(fixed_pattern_amplitude(y, y, 0, 0), std::runtime_error);
  CHECK_THROWS_AS(sharpness_ratio(y, y, 7), std::runtime_error);  // 2x2 left: no Sobel position
  CHECK_THROWS_AS(colour_shift(hr, hr, 8), std::runtime_error);
  CHECK_THROWS_AS(mean_gradient_magnitude(ImageD(2, 5, 1)), std::runtime_error);
  CHECK_THROWS_AS(mean_gradient_magnitude(ImageD(5, 5, 3)), std::runtime_error);
  // 16 - 2*6 = 4: the smallest region holding all 16 phases is accepted.
  CHECK(fixed_pattern_amplitude(y, y, 6, 4) == 0.0);
}

TEST_CASE("artifacts: the mean over images counts a gray image's shift for R, G and B", "[data][metrics][artifacts]") {
  std::vector<ImageScore> scores(2);
  scores[0].q.artifacts = {1.0, {3.0, -1.0, 2.0}, 0.5};
  scores[1].q.artifacts = {2.0, {1.0}, 1.5};
  const Artifacts m = mean_artifacts(scores);
  CHECK(m.fixed_pattern == 1.5);
  CHECK(m.sharpness == 1.0);
  REQUIRE(m.colour_shift.size() == 3);
  CHECK(m.colour_shift[0] == 2.0);
  CHECK(m.colour_shift[1] == 0.0);
  CHECK(m.colour_shift[2] == 1.5);
  scores.erase(scores.begin());
  CHECK(mean_artifacts(scores).colour_shift == std::vector<double>{1.0});
}
