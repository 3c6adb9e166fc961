// Image reading and PNG writing (data/image_io.h): formats and channel modes against fixtures
// written by PIL (tools/scripts/make_data_fixtures.py), 8/16-bit PNG round trips, atomic writes, and
// the named error for each kind of bad file.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>

#include "data/image_io.h"
#include "tests/test_common.h"

using namespace srgan::data;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) { return std::string(SRGAN_FIXTURE_DIR) + "/data/" + name; }

using srgan::test::TempDir;  // a temp folder removed at scope exit (tests/test_common.h)

Image read_as(const std::string& path, ChannelMode m) {
  ReadOptions ro;
  ro.channels = m;
  return read_image(path, ro);
}

// The message of the std::runtime_error that f throws ("" when it does not throw).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

Image pattern(int w, int h, int c, int seed) {
  Image img(w, h, c);
  for (size_t i = 0; i < img.size(); ++i) img.data[i] = uint8_t((i * 37 + size_t(seed) * 11 + i / 7) % 256);
  return img;
}

}  // namespace

TEST_CASE("image io: PNG, BMP, JPEG and channel modes against PIL-written fixtures", "[data][io]") {
  const Image rgb = read_as(fixture("crop_rgb_24x20.png"), ChannelMode::Stored);
  REQUIRE(rgb.width == 24);
  REQUIRE(rgb.height == 20);
  REQUIRE(rgb.channels == 3);

  SECTION("BMP decodes to the same pixels") {
    const Image bmp = read_as(fixture("io_rgb.bmp"), ChannelMode::Rgb);
    SRGAN_REQUIRE_CLOSE(srgan::test::all_close(bmp.data, rgb.data, 0.0, 0.0));  // lossless
  }
  SECTION("JPEG (quality 95) decodes close to the PNG") {
    const Image jpg = read_as(fixture("io_rgb_q95.jpg"), ChannelMode::Rgb);
    REQUIRE(jpg.width == 24);
    REQUIRE(jpg.height == 20);
    double mad = 0.0;
    for (size_t i = 0; i < jpg.size(); ++i) mad += std::fabs(double(jpg.data[i]) - rgb.data[i]);
    mad /= double(jpg.size());
    INFO("mean |jpeg - png| = " << mad);
    CHECK(mad < 4.0);  // lossy codec at quality 95 plus chroma subsampling on a 24x20 crop
  }
  SECTION("RGBA: Stored keeps alpha, Rgb and GrayOrRgb drop it (no compositing)") {
    const Image s = read_as(fixture("io_rgba.png"), ChannelMode::Stored);
    REQUIRE(s.channels == 4);
    CHECK(s.at(3, 5, 3) == uint8_t((3 * 11 + 5 * 7) % 256));
    const Image r = read_as(fixture("io_rgba.png"), ChannelMode::Rgb);
    SRGAN_REQUIRE_CLOSE(srgan::test::all_close(r.data, rgb.data, 0.0, 0.0));
    CHECK(read_as(fixture("io_rgba.png"), ChannelMode::GrayOrRgb).channels == 3);
    CHECK(drop_alpha(s).data == r.data);
  }
  SECTION("gray and gray+alpha: Stored, GrayOrRgb, Rgb (replicated)") {
    const Image g = read_as(fixture("crop_gray_36x30.png"), ChannelMode::Stored);
    REQUIRE(g.channels == 1);
    const Image ga = read_as(fixture("io_gray_alpha.png"), ChannelMode::Stored);
    REQUIRE(ga.channels == 2);
    const Image g1 = read_as(fixture("io_gray_alpha.png"), ChannelMode::GrayOrRgb);
    REQUIRE(g1.channels == 1);
    CHECK(g1.data == g.data);
    const Image g3 = read_as(fixture("crop_gray_36x30.png"), ChannelMode::Rgb);
    REQUIRE(g3.channels == 3);
    CHECK(g3.data == gray_to_rgb(g).data);
    const Image g4 = read_as(fixture("crop_gray_36x30.png"), ChannelMode::Rgba);
    REQUIRE(g4.channels == 4);
    CHECK(g4.at(7, 9, 3) == 255);
  }
  SECTION("16-bit PNG: exact 16-bit values, rounded 8-bit values") {
    std::ifstream txt(fixture("io_gray16.txt"));
    std::string header;
    std::getline(txt, header);
    int w = 0, h = 0;
    txt >> w >> h;
    std::vector<uint16_t> ref(size_t(w) * h);
    for (auto& v : ref) txt >> v;
    REQUIRE(txt);
    const ImageInfo info = read_image_info(fixture("io_gray16.png"));
    CHECK(info.bits == 16);
    CHECK(info.channels == 1);
    ReadOptions ro;
    ro.channels = ChannelMode::Stored;
    const Image16 img16 = read_image16(fixture("io_gray16.png"), ro);
    REQUIRE(img16.width == w);
    REQUIRE(img16.height == h);
    SRGAN_REQUIRE_CLOSE(srgan::test::all_close(img16.data, ref, 0.0, 0.0));
    const Image img8 = read_image(fixture("io_gray16.png"), ro);
    for (size_t i = 0; i < ref.size(); ++i)
      REQUIRE(int(img8.data[i]) == int(std::lround(ref[i] * 255.0 / 65535.0)));
  }
  SECTION("8-bit files read as 16-bit are v * 257") {
    ReadOptions ro;
    ro.channels = ChannelMode::Stored;
    const Image16 w16 = read_image16(fixture("crop_rgb_24x20.png"), ro);
    for (size_t i = 0; i < rgb.size(); ++i) REQUIRE(w16.data[i] == uint16_t(rgb.data[i] * 257));
  }
}

TEST_CASE("image io: 8- and 16-bit PNG round trips for 1..4 channels, atomic replace", "[data][io]") {
  TempDir tmp("roundtrip");
  for (int c = 1; c <= 4; ++c) {
    const Image img = pattern(13, 7, c, c);
    const std::string p8 = tmp.file("rt8_" + std::to_string(c) + ".png");
    write_png(p8, img);
    ReadOptions ro;
    ro.channels = ChannelMode::Stored;
    const Image back = read_image(p8, ro);
    REQUIRE(back.channels == c);
    CHECK(back.data == img.data);

    Image16 i16(11, 9, c);
    for (size_t i = 0; i < i16.size(); ++i) i16.data[i] = uint16_t((i * 2654435761u) >> 7);
    const std::string p16 = tmp.file("rt16_" + std::to_string(c) + ".png");
    write_png16(p16, i16);
    CHECK(read_image_info(p16).bits == 16);
    const Image16 b16 = read_image16(p16, ro);
    REQUIRE(b16.channels == c);
    CHECK(b16.data == i16.data);
  }
  // Replacing an existing file leaves only the new content and no temporary files.
  const std::string p = tmp.file("replace.png");
  write_png(p, pattern(5, 5, 3, 1));
  write_png(p, pattern(6, 4, 3, 2));
  const Image back = read_image(p);
  CHECK(back.width == 6);
  CHECK(back.data == pattern(6, 4, 3, 2).data);
  int entries = 0;
  for (auto& e : fs::directory_iterator(tmp.path)) entries += e.path().filename().string().find(".tmp.") != std::string::npos;
  CHECK(entries == 0);
  // A folder that does not exist: the error names the file, nothing is left behind.
  const std::string bad = tmp.file("no_such_dir/x.png");
  const std::string msg = error_of([&] { write_png(bad, pattern(2, 2, 1, 0)); });
  CHECK(msg.find("x.png") != std::string::npos);
}

TEST_CASE("image io: each bad file gives its named error", "[data][io]") {
  TempDir tmp("bad");
  const std::vector<uint8_t> good = encode_png(pattern(40, 30, 3, 3));
  auto expect = [](const std::string& path, const std::string& what) {
    const std::string msg = error_of([&] { read_image(path); });
    INFO("message: " << msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(what) != std::string::npos);
  };
  expect(tmp.file("missing.png"), "does not exist");
  expect(tmp.path.string(), "is not a regular file");

  write_bytes(tmp.file("zero.png"), {});
  expect(tmp.file("zero.png"), "is empty (0 bytes)");

  const std::string text = "this is not an image\n";
  write_bytes(tmp.file("text.png"), std::vector<uint8_t>(text.begin(), text.end()));
  expect(tmp.file("text.png"), "is not an image: neither PNG, JPEG nor BMP (it starts with bytes 74 68 69 73)");

  write_bytes(tmp.file("truncated.png"), std::vector<uint8_t>(good.begin(), good.begin() + long(good.size() / 2)));
  expect(tmp.file("truncated.png"), "is truncated or corrupt");
  // The header alone still reads (this is why the dataset scan cannot catch truncation).
  CHECK(read_image_info(tmp.file("truncated.png")).width == 40);

  std::vector<uint8_t> zero_w = good;  // IHDR width (bytes 16..19) set to 0
  zero_w[16] = zero_w[17] = zero_w[18] = zero_w[19] = 0;
  write_bytes(tmp.file("zerosize.png"), zero_w);
  expect(tmp.file("zerosize.png"), "has zero width or height");

  write_bytes(tmp.file("big.png"), good);
  ReadOptions small;
  small.max_pixels = 1000;  // 40 x 30 = 1200
  const std::string msg = error_of([&] { read_image(tmp.file("big.png"), small); });
  CHECK(msg.find("is too large: 40x30 = 1200 pixels exceeds the limit of 1000") != std::string::npos);
  CHECK(error_of([&] { read_image_info(tmp.file("big.png"), 1000); }).find("is too large") != std::string::npos);
  CHECK(read_image(tmp.file("big.png")).width == 40);  // the default limit lets it through
}
