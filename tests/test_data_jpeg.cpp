// JPEG through libjpeg-turbo (data/jpeg_decode.h): the kinds of JPEG we read against PIL's
// decode of the same files (tools/scripts/make_data_fixtures.py, section 5), channel modes,
// read_image_info against the decoder, and bad files: the crafted JPEGs that made stb_image 2.27
// read out of bounds or uninitialised memory (found by tests/fuzz/fuzz_image_read before the
// change; in the ASan + UBSan build this test failed on them), truncation, a broken header.
#include <filesystem>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "tests/test_common.h"

using namespace srgan::data;
using srgan::test::error_of;
using srgan::test::file_bytes;
using srgan::test::write_bytes;

namespace {

std::string fixture(const std::string& name) { return std::string(SRGAN_FIXTURE_DIR) + "/data/" + name; }

Image read_as(const std::string& path, ChannelMode m) {
  ReadOptions ro;
  ro.channels = m;
  return read_image(path, ro);
}

int worst_difference(const Image& a, const Image& b) {
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a.data[i]) - int(b.data[i])));
  return worst;
}

}  // namespace

TEST_CASE("jpeg: gray, 4:2:0, progressive, restart markers and CMYK decode exactly as PIL decodes them",
          "[data][io][jpeg]") {
  // PIL 13 decodes with libjpeg-turbo 3.2, we with Debian's 2.1.5: the same integer IDCT and
  // upsampling, so the samples are equal (measured: 0 levels apart for all five). CMYK goes
  // through our conversion and PIL's (both round (255 - C)(255 - K) / 255): also equal.
  for (const char* kind : {"gray", "420", "progressive", "restart", "cmyk"}) {
    INFO("jpeg_" << kind << ".jpg");
    const std::string jpg = fixture(std::string("jpeg_") + kind + ".jpg");
    const Image got = read_as(jpg, ChannelMode::Stored);
    const Image want = read_as(fixture(std::string("jpeg_") + kind + "_pil.png"), ChannelMode::Stored);
    REQUIRE(got.width == want.width);
    REQUIRE(got.height == want.height);
    REQUIRE(got.channels == want.channels);
    CHECK(worst_difference(got, want) == 0);
    const ImageInfo info = read_image_info(jpg);
    CHECK(info.width == got.width);
    CHECK(info.height == got.height);
    CHECK(info.channels == got.channels);
    CHECK(info.bits == 8);
  }
}

TEST_CASE("jpeg: channel modes follow the same rules as for PNG", "[data][io][jpeg]") {
  const std::string jpg = fixture("jpeg_420.jpg");
  const Image rgb = read_as(jpg, ChannelMode::Stored);
  REQUIRE(rgb.channels == 3);
  const Image gray = read_as(jpg, ChannelMode::Gray);
  REQUIRE(gray.channels == 1);
  for (size_t p = 0; p < gray.size(); ++p) {  // stb_image's luma, the rule for every format
    const int r = rgb.data[3 * p], g = rgb.data[3 * p + 1], b = rgb.data[3 * p + 2];
    REQUIRE(int(gray.data[p]) == (r * 77 + g * 150 + b * 29) >> 8);
  }
  const Image rgba = read_as(jpg, ChannelMode::Rgba);
  REQUIRE(rgba.channels == 4);
  for (size_t p = 0; p < rgb.pixels(); ++p) {
    REQUIRE(rgba.data[4 * p + 3] == 255);
    REQUIRE(rgba.data[4 * p] == rgb.data[3 * p]);
  }
  const Image g3 = read_as(fixture("jpeg_gray.jpg"), ChannelMode::Rgb);
  const Image g1 = read_as(fixture("jpeg_gray.jpg"), ChannelMode::GrayOrRgb);
  REQUIRE(g1.channels == 1);
  CHECK(g3.data == gray_to_rgb(g1).data);
  ReadOptions ro;
  ro.channels = ChannelMode::Stored;
  const Image16 deep = read_image16(jpg, ro);
  REQUIRE(deep.size() == rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i) REQUIRE(deep.data[i] == uint16_t(rgb.data[i] * 257));
}

TEST_CASE("jpeg: crafted files that broke stb_image give a clear error, the same one every time",
          "[data][io][jpeg]") {
  // Each read runs in this one process after the others: stb's reads of stale memory showed up
  // as different errors (or pixels) from one run to the next.
  const std::filesystem::path dir = std::filesystem::path(SRGAN_SOURCE_DIR_FOR_TESTS) / "tests/fuzz/corpus/image_read";
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("stb_crash_", 0) != 0) continue;
    ++files;
    INFO(name);
    const std::string first = error_of([&] { read_image(e.path().string()); });
    INFO(first);
    const std::string named = "image file '" + e.path().string() + "' is ";
    CHECK((first.rfind(named + "not a JPEG libjpeg can read (", 0) == 0 ||
           first.rfind(named + "truncated or corrupt (", 0) == 0));
    CHECK(error_of([&] { read_image(e.path().string()); }) == first);
  }
  CHECK(files >= 4);
}

TEST_CASE("jpeg: truncated data and a broken header are named as such", "[data][io][jpeg]") {
  srgan::test::TempDir tmp("jpeg_bad");
  const std::vector<uint8_t> good = file_bytes(fixture("jpeg_420.jpg"));
  REQUIRE(good.size() > 1000);
  const std::string cut = tmp.file("cut.jpg");
  write_bytes(cut, std::vector<uint8_t>(good.begin(), good.begin() + long(good.size() * 2 / 3)));
  std::string msg = error_of([&] { read_image(cut); });
  CHECK(msg.find(cut) != std::string::npos);
  CHECK(msg.find("is truncated or corrupt (Premature end of JPEG file)") != std::string::npos);
  CHECK(read_image_info(cut).width == 64);  // the header is whole, as for a truncated PNG

  // A 12-bit JPEG (SOF0 with precision 12, one 16x16 component, then a scan): not read.
  const std::string deep = tmp.file("deep.jpg");
  write_bytes(deep, {0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 12, 0, 16, 0, 16, 1, 1, 0x11, 0,
                     0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 1, 2, 3, 4, 0xFF, 0xD9});
  msg = error_of([&] { read_image(deep); });
  CHECK(msg == "image file '" + deep + "' is not a JPEG libjpeg can read (Unsupported JPEG data precision 12)");
  CHECK(error_of([&] { read_image_info(deep); }) == msg);
}

TEST_CASE("jpeg: a progressive file with more than 500 scans is refused", "[data][io][jpeg]") {
  // The last scan of a progressive fixture repeated 600 times (libjpeg only warns about the
  // bogus progression): each scan is a pass over the whole image, so a small file could keep
  // the decoder busy for minutes.
  srgan::test::TempDir tmp("jpeg_scans");
  const std::vector<uint8_t> prog = file_bytes(fixture("jpeg_progressive.jpg"));
  size_t last_sos = 0;
  for (size_t i = 0; i + 1 < prog.size(); ++i)
    if (prog[i] == 0xFF && prog[i + 1] == 0xDA) last_sos = i;
  REQUIRE(last_sos > 0);
  REQUIRE(prog[prog.size() - 1] == 0xD9);
  auto with_extra_scans = [&](int k) {
    std::vector<uint8_t> b(prog.begin(), prog.end() - 2);  // without the end marker
    for (int i = 0; i < k; ++i) b.insert(b.end(), prog.begin() + long(last_sos), prog.end() - 2);
    b.insert(b.end(), {0xFF, 0xD9});
    return b;
  };
  const std::string path = tmp.file("scans.jpg");
  write_bytes(path, with_extra_scans(600));
  CHECK(error_of([&] { read_image(path); }) ==
        "image file '" + path + "' is truncated or corrupt (more than 500 progressive scans)");
  write_bytes(path, with_extra_scans(5));  // the same repeated scan a few times: read
  CHECK(read_image(path).width == 64);
}
