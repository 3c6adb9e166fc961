// MATLAB-exact bicubic resize (data/resize.h): bit-exact against committed fixtures made by an
// independent numpy implementation (tools/scripts/make_data_fixtures.py, itself checked bit-exact
// against MATLAB's published LR files), and against every published MATLAB LR file in
// ../shared/data/reference_LRx4/selfexsr_matlab when that folder exists (env SRGAN_SHARED_DIR
// overrides the build-time path; the test says "skipped" when it is absent).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "data/image_io.h"
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

Image read_stored(const std::string& path) {
  ReadOptions ro;
  ro.channels = ChannelMode::Stored;
  return read_image(path, ro);
}

// Same shape and every sample equal; on failure reports the count, max diff and first index.
void require_identical(const Image& got, const Image& ref, const std::string& what) {
  INFO(what << ": got " << got.width << "x" << got.height << "x" << got.channels << ", expected " << ref.width << "x"
            << ref.height << "x" << ref.channels);
  REQUIRE(got.width == ref.width);
  REQUIRE(got.height == ref.height);
  REQUIRE(got.channels == ref.channels);
  // Bit-exact: the reference is MATLAB's own uint8 output, so no tolerance.
  SRGAN_REQUIRE_CLOSE(srgan::test::all_close(got.data, ref.data, 0.0, 0.0));
}

}  // namespace

TEST_CASE("bicubic weights: rows sum to 1, indices clamped, MATLAB tap counts", "[data][resize]") {
  for (double scale : {0.25, 1.0 / 3.0, 0.5, 2.0, 4.0}) {
    const int in = 37, out = int(std::ceil(in * scale));
    const ResizeWeights rw = bicubic_weights(in, out, scale);
    CHECK(rw.taps == (scale < 1 ? int(std::ceil(4.0 / scale)) + 2 : 6));
    for (int i = 0; i < out; ++i) {
      double s = 0.0;
      for (int j = 0; j < rw.taps; ++j) {
        s += rw.weight[i * rw.taps + j];
        REQUIRE(rw.index[i * rw.taps + j] >= 0);
        REQUIRE(rw.index[i * rw.taps + j] < in);
      }
      REQUIRE(std::fabs(s - 1.0) < 1e-12);  // normalised per output pixel; rounding only
    }
  }
}

TEST_CASE("bicubic resize keeps a constant image constant and has MATLAB's output sizes", "[data][resize]") {
  Image img(30, 22, 3, 77);
  const Image d = imresize_bicubic(img, 0.25);
  CHECK(d.width == 8);   // ceil(30 / 4)
  CHECK(d.height == 6);  // ceil(22 / 4)
  for (auto v : d.data) REQUIRE(v == 77);
  const Image u = upscale_bicubic(img, 4);
  CHECK(u.width == 120);
  CHECK(u.height == 88);
  for (auto v : u.data) REQUIRE(v == 77);
  const Image t = imresize_bicubic(img, 45, 11);
  CHECK(t.width == 45);
  CHECK(t.height == 11);
  for (auto v : t.data) REQUIRE(v == 77);
}

TEST_CASE("bicubic fixture: x2, x3, x4 down and x4 up are bit-exact (RGB 24x20, gray 36x30)", "[data][resize]") {
  for (const std::string tag : {"rgb", "gray"}) {
    const Image src = read_stored(fixture(tag == "rgb" ? "crop_rgb_24x20.png" : "crop_gray_36x30.png"));
    REQUIRE(src.channels == (tag == "rgb" ? 3 : 1));
    for (int k : {2, 3, 4}) {
      const Image ref = read_stored(fixture("crop_" + tag + "_down_x" + std::to_string(k) + ".png"));
      require_identical(downscale_bicubic(modcrop(src, k), k), ref, tag + " down x" + std::to_string(k));
      require_identical(imresize_bicubic(modcrop(src, k), 1.0 / k), ref, tag + " imresize 1/" + std::to_string(k));
    }
    // Down by 0.25 without modcrop (30 rows -> ceil(7.5) = 8), then x4 up.
    const Image ref_up = read_stored(fixture("crop_" + tag + "_down4_up4.png"));
    require_identical(upscale_bicubic(imresize_bicubic(src, 0.25), 4), ref_up, tag + " down 0.25 then up 4");
  }
}

TEST_CASE("bicubic float path is the same separable filter with no rounding", "[data][resize]") {
  ImageF img(16, 24, 3);
  img.data = srgan::test::random_vector<float>(img.size(), 7, 0.0, 255.0);
  const ImageF got = imresize_bicubic(img, 0.25);  // (6, 4, 3)
  REQUIRE(got.width == 4);
  REQUIRE(got.height == 6);
  // Reference: height pass then width pass, in double, straight from the weights.
  const ResizeWeights wh = bicubic_weights(24, 6, 0.25), ww = bicubic_weights(16, 4, 0.25);
  std::vector<double> ref(got.size()), mid(6 * 16 * 3);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) {
        double acc = 0.0;
        for (int j = 0; j < wh.taps; ++j) acc += wh.weight[y * wh.taps + j] * img.at(wh.index[y * wh.taps + j], x, c);
        mid[(y * 16 + x) * 3 + c] = acc;
      }
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        double acc = 0.0;
        for (int j = 0; j < ww.taps; ++j) acc += ww.weight[x * ww.taps + j] * mid[(y * 16 + ww.index[x * ww.taps + j]) * 3 + c];
        ref[(y * 4 + x) * 3 + c] = acc;
      }
  // The float image stores the intermediate in float32: ~1e-5 relative at 255.
  SRGAN_REQUIRE_CLOSE(srgan::test::all_close(got.data, ref, 1e-3, 1e-5));
}

TEST_CASE("bicubic upscaling one row at a time gives the whole-image result bit for bit", "[data][resize]") {
  for (int channels : {1, 2}) {
    for (int factor : {1, 3, 4}) {
      INFO(channels << " channels, x" << factor);
      ImageF img(13, 7, channels);
      img.data = srgan::test::random_vector<float>(img.size(), uint64_t(10 * channels + factor), 0.0, 1.0);
      const ImageF whole = imresize_bicubic(img, double(factor));
      BicubicRowUpscaler rows(img, factor);
      REQUIRE(rows.out_width() == whole.width);
      REQUIRE(rows.out_height() == whole.height);
      std::vector<float> row(size_t(whole.width) * channels);  // (out_width, C)
      for (int y = whole.height - 1; y >= 0; --y) {  // any order: each row stands alone
        rows.row(y, row.data());
        REQUIRE(std::equal(row.begin(), row.end(), whole.row(y)));
      }
      CHECK_THROWS(rows.row(whole.height, row.data()));
    }
  }
}

TEST_CASE("bicubic x4 downscaling is bit-exact against MATLAB's published LR (shared Set5, Set14, BSD100)",
          "[data][resize][shared]") {
  const fs::path data = fs::path(shared_dir()) / "data";
  const fs::path ref = data / "reference_LRx4" / "selfexsr_matlab";
  if (!fs::is_directory(ref)) {
    WARN("skipped: " << ref.string() << " is absent (set SRGAN_SHARED_DIR to the shared folder)");
    return;
  }
  struct Set {
    const char* name;
    std::vector<std::string> hr;
  };
  std::vector<Set> sets = {
      {"Set5", {"baby", "bird", "butterfly", "head", "woman"}},
      {"Set14",
       {"baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers", "foreman", "lenna", "man", "monarch",
        "pepper", "ppt3", "zebra"}},
      {"BSD100", {}}};
  for (int i = 1; i <= 100; ++i) {
    char b[64];
    std::snprintf(b, sizeof b, "img_%03d_SRF_4_HR", i);
    sets[2].hr.push_back(b);
  }
  int checked = 0;
  for (const Set& s : sets) {
    for (size_t i = 0; i < s.hr.size(); ++i) {
      char lr_name[64];
      std::snprintf(lr_name, sizeof lr_name, "img_%03d_SRF_4_LR.png", int(i + 1));
      const fs::path hr_path = data / s.name / (s.hr[i] + ".png"), lr_path = ref / s.name / lr_name;
      if (!fs::exists(hr_path) || !fs::exists(lr_path)) {
        WARN("skipped (file absent): " << hr_path.string() << " / " << lr_path.string());
        continue;
      }
      const Image hr = modcrop(read_stored(hr_path.string()), 4);
      require_identical(downscale_bicubic(hr, 4), read_stored(lr_path.string()), hr_path.string());
      ++checked;
    }
  }
  INFO("images checked: " << checked);
  CHECK(checked == 119);
}
