// PSNR / SSIM on Y (data/metrics.h) against numbers from skimage and a numpy ssim_index.m
// (tools/scripts/make_data_fixtures.py -> tests/fixtures/data/metrics_reference.txt), plus the bicubic
// baseline of the field (Set5 28.42 dB, Set14 26.00 dB) when ../shared/data is present.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/evaluate.h"
#include "data/image_io.h"
#include "data/metrics.h"
#include "data/resize.h"
#include "tests/test_common.h"

using namespace srgan::data;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) { return std::string(SRGAN_FIXTURE_DIR) + "/data/" + name; }

std::string shared_dir() {
  const char* e = std::getenv("SRGAN_SHARED_DIR");
  return (e && *e) ? std::string(e) : std::string(SRGAN_SHARED_DIR);
}

}  // namespace

TEST_CASE("metrics: PSNR_Y, SSIM_Y and PSNR_RGB match skimage on the fixture pairs", "[data][metrics]") {
  const Image hr = read_image(fixture("metrics_hr.png"));
  std::ifstream ref(fixture("metrics_reference.txt"));
  REQUIRE(ref);
  std::string line;
  int rows = 0;
  while (std::getline(ref, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    std::string pair, mode;
    int border = 0;
    double p_y = 0, s_y = 0, p_rgb = 0;
    is >> pair >> mode >> border >> p_y >> s_y >> p_rgb;
    REQUIRE(is);
    const Image other = read_image(fixture("metrics_" + pair + ".png"));
    const LumaMode lm = mode == "uint8" ? LumaMode::Uint8 : LumaMode::Double;
    const ImageD yh = luma_bt601(hr, lm), yo = luma_bt601(other, lm);
    const ImageD a = border ? shave(yh, border) : yh, b = border ? shave(yo, border) : yo;
    INFO(line);
    // Same formulas in double; separable vs 2-D Gaussian and summation order differ: ~1e-15.
    CHECK(std::fabs(psnr(a, b) - p_y) < 1e-9);
    CHECK(std::fabs(ssim(a, b) - s_y) < 1e-12);
    CHECK(std::fabs(psnr_rgb(hr, other, border) - p_rgb) < 1e-9);
    if (border == 4) {
      const Quality q = evaluate_pair(hr, other, 4, lm);
      CHECK(std::fabs(q.psnr_y - p_y) < 1e-9);
      CHECK(std::fabs(q.ssim_y - s_y) < 1e-12);
      CHECK(std::fabs(q.psnr_rgb - p_rgb) < 1e-9);
    }
    ++rows;
  }
  CHECK(rows == 8);
}

TEST_CASE("metrics: Y of black/white, gray is its own Y, identical images, shape errors", "[data][metrics]") {
  Image px(2, 1, 3);
  px.data = {0, 0, 0, 255, 255, 255};
  const ImageD yd = luma_bt601(px, LumaMode::Double);
  CHECK(std::fabs(yd.data[0] - 16.0) < 1e-12);
  CHECK(std::fabs(yd.data[1] - 235.0) < 1e-12);  // 16 + 219
  Image g(1, 1, 1, 200);
  CHECK(luma_bt601(g).data[0] == 200.0);
  Image red(1, 1, 3);
  red.data = {255, 0, 0};
  CHECK(std::fabs(luma_bt601(red, LumaMode::Double).data[0] - 81.481) < 1e-12);
  CHECK(luma_bt601(red, LumaMode::Uint8).data[0] == 81.0);

  const Image hr = read_image(fixture("metrics_hr.png"));
  const Quality same = evaluate_pair(hr, hr, 4);
  CHECK(std::isinf(same.psnr_y));
  CHECK(std::fabs(same.ssim_y - 1.0) < 1e-12);
  CHECK(std::isinf(same.psnr_rgb));
  CHECK_THROWS_AS(evaluate_pair(hr, crop(hr, 0, 0, 60, 48), 4), std::runtime_error);
  CHECK_THROWS_AS(ssim(ImageD(10, 20, 1), ImageD(10, 20, 1)), std::runtime_error);
}

TEST_CASE("eval: bicubic baseline on the shared Set5 / Set14 is the published 28.42 / 26.00 dB",
          "[data][metrics][shared]") {
  const fs::path data = fs::path(shared_dir()) / "data";
  if (!fs::is_directory(data / "Set5") || !fs::is_directory(data / "Set14")) {
    WARN("skipped: " << (data / "Set5").string() << " or Set14 is absent (set SRGAN_SHARED_DIR)");
    return;
  }
  const EvalSummary s5 = evaluate_folder((data / "Set5").string(), 4, bicubic_upscaler(4));
  const EvalSummary s14 = evaluate_folder((data / "Set14").string(), 4, bicubic_upscaler(4));
  REQUIRE(s5.images.size() == 5);
  REQUIRE(s14.images.size() == 14);
  INFO("Set5 " << s5.mean.psnr_y << " dB / " << s5.mean.ssim_y << ", Set14 " << s14.mean.psnr_y << " dB / "
               << s14.mean.ssim_y);
  CHECK(std::fabs(s5.mean.psnr_y - 28.42) <= 0.01);   // published tables (SRCNN, SelfExSR, ...)
  CHECK(std::fabs(s14.mean.psnr_y - 26.00) <= 0.01);
  // Our own numbers from the numpy reference (tools/scripts/make_data_fixtures.py --baseline).
  CHECK(std::fabs(s5.mean.psnr_y - 28.4177) < 1e-4);
  CHECK(std::fabs(s14.mean.psnr_y - 25.9933) < 1e-4);
  CHECK(std::fabs(s5.mean.ssim_y - 0.810082) < 1e-6);
  CHECK(std::fabs(s14.mean.ssim_y - 0.702264) < 1e-6);
  const EvalSummary d5 = evaluate_folder((data / "Set5").string(), 4, bicubic_upscaler(4), LumaMode::Double);
  CHECK(std::fabs(d5.mean.psnr_y - 28.4302) < 1e-4);
}

TEST_CASE("eval: folder errors name the folder and the file", "[data][metrics]") {
  CHECK_THROWS_WITH(evaluate_folder("/nonexistent/srgan_eval_dir", 4, bicubic_upscaler(4)),
                    "image folder '/nonexistent/srgan_eval_dir' does not exist");
  // The wrong-size upscaler is caught and the image named.
  const std::string dir = std::string(SRGAN_FIXTURE_DIR) + "/data";
  bool threw = false;
  try {
    evaluate_folder(dir, 4, [](const Image& lr) { return lr; });
  } catch (const std::runtime_error& e) {
    threw = true;
    CHECK(std::string(e.what()).find("the upscaler returned") != std::string::npos);
  }
  CHECK(threw);
}
