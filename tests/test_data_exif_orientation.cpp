// JPEG EXIF orientation (data/exif_orientation.h): the parser on hand-built JPEG headers (both
// TIFF byte orders, an APP0 block before the EXIF one, fill bytes, a wrong type, values out of
// range, every truncation, corrupt offsets), the eight turns checked pixel by pixel against the
// TIFF definitions, and the reader against PIL: JPEGs written with each Orientation next to
// PIL's ImageOps.exif_transpose of them (tools/scripts/make_data_fixtures.py).
#include <string>
#include <vector>

#include "data/exif_orientation.h"
#include "data/image_io.h"
#include "tests/test_common.h"

using namespace srgan::data;

namespace {

// SOI, optionally an APP0 "JFIF" block, then APP1 "Exif" whose TIFF IFD0 holds `entries`
// entries: a dummy tag 0x010F first, then Orientation (type `type`, value `value`) if asked.
std::vector<uint8_t> jpeg_head(bool little, int value, bool with_app0 = false, unsigned type = 3, bool with_tag = true) {
  std::vector<uint8_t> tiff;
  auto p16 = [&](unsigned v) {
    if (little) tiff.insert(tiff.end(), {uint8_t(v), uint8_t(v >> 8)});
    else tiff.insert(tiff.end(), {uint8_t(v >> 8), uint8_t(v)});
  };
  auto p32 = [&](uint32_t v) {
    if (little) tiff.insert(tiff.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)});
    else tiff.insert(tiff.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
  };
  tiff.insert(tiff.end(), little ? std::initializer_list<uint8_t>{'I', 'I'} : std::initializer_list<uint8_t>{'M', 'M'});
  p16(42);
  p32(8);  // IFD0 right after the header
  p16(with_tag ? 2 : 1);
  p16(0x010F), p16(2), p32(4), p32(0);  // Make, ASCII: an entry to skip
  if (with_tag) {
    p16(0x0112), p16(type), p32(1), p16(unsigned(value)), p16(0);
  }
  p32(0);  // no next IFD
  std::vector<uint8_t> b = {0xFF, 0xD8};
  if (with_app0) b.insert(b.end(), {0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0});
  b.insert(b.end(), {0xFF, 0xFF});  // a fill byte before the marker
  const size_t len = 2 + 6 + tiff.size();
  b.insert(b.end(), {0xFF, 0xE1, uint8_t(len >> 8), uint8_t(len)});
  b.insert(b.end(), {'E', 'x', 'i', 'f', 0, 0});
  b.insert(b.end(), tiff.begin(), tiff.end());
  b.insert(b.end(), {0xFF, 0xDA, 0x00, 0x02});  // start of scan: the parser stops here
  return b;
}

int orientation_of(const std::vector<uint8_t>& b) { return jpeg_exif_orientation(b.data(), b.size()); }

}  // namespace

TEST_CASE("EXIF orientation: read from either byte order, after APP0 and fill bytes", "[data][exif]") {
  for (bool little : {true, false})
    for (int v = 1; v <= 8; ++v) {
      INFO((little ? "II" : "MM") << " value " << v);
      CHECK(orientation_of(jpeg_head(little, v)) == v);
      CHECK(orientation_of(jpeg_head(little, v, true)) == v);
    }
}

TEST_CASE("EXIF orientation: anything missing, malformed or out of range reads as 1", "[data][exif]") {
  CHECK(orientation_of(jpeg_head(true, 0)) == 1);
  CHECK(orientation_of(jpeg_head(true, 9)) == 1);
  CHECK(orientation_of(jpeg_head(false, 6, false, 4)) == 1);     // LONG, not SHORT
  CHECK(orientation_of(jpeg_head(true, 6, false, 3, false)) == 1);  // no Orientation entry
  CHECK(orientation_of({0x89, 'P', 'N', 'G', 13, 10, 26, 10}) == 1);  // not a JPEG
  CHECK(orientation_of({}) == 1);
  // Every truncation of a valid header: never a read past the end (the sanitizer build would
  // report one), and the value only once the whole APP1 block is there (it ends where the 4
  // bytes of the start-of-scan marker begin).
  const std::vector<uint8_t> full = jpeg_head(false, 6, true);
  const size_t app1_end = full.size() - 4;
  for (size_t n = 0; n <= full.size(); ++n) {
    INFO("first " << n << " bytes");
    CHECK(jpeg_exif_orientation(full.data(), n) == (n >= app1_end ? 6 : 1));
  }
  // Corrupt numbers: an IFD offset past the end, an entry count running past the end, a block
  // length past the end, a length below 2.
  std::vector<uint8_t> b = jpeg_head(true, 6);
  const size_t tiff = 2 + 2 + 4 + 6;  // SOI, fill, APP1 marker and length, "Exif\0\0"
  auto bad = b;
  bad[tiff + 4] = 0xF0;
  CHECK(orientation_of(bad) == 1);
  // IFD0 claims 3 entries but the block holds one (then 4 bytes of next-IFD offset). After the
  // APP1 block comes a comment whose bytes, read as the third entry, would be Orientation 6: a
  // parser that ran past its block would find it.
  bad = jpeg_head(true, 6, false, 3, false);
  bad[tiff + 8] = 3;
  const std::vector<uint8_t> comment = {0xFF, 0xFE, 0x00, 0x14, 'x', 'x', 'x', 'x',
                                        0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 'x', 'x'};
  bad.insert(bad.end() - 4, comment.begin(), comment.end());  // before the start of scan
  const size_t tiff_len = 8 + 2 + 12 + 4;  // third entry at 8 + 2 + 24 = tiff_len + 8: comment byte 8
  REQUIRE(bad[tiff + tiff_len + 8] == 0x12);
  CHECK(orientation_of(bad) == 1);
  bad = b;  // the same claim with the tag among the entries that are there: found
  bad[tiff + 8] = 0xFF, bad[tiff + 9] = 0xFF;
  CHECK(orientation_of(bad) == 6);
  bad = b;
  bad[6] = 0xFF;  // APP1 length high byte
  CHECK(orientation_of(bad) == 1);
  bad = b;
  bad[6] = 0, bad[7] = 1;
  CHECK(orientation_of(bad) == 1);
}

TEST_CASE("EXIF orientation: the eight turns move each pixel where TIFF says", "[data][exif]") {
  Image img(3, 2, 1);  // stored: 0 1 2 / 3 4 5
  for (int i = 0; i < 6; ++i) img.data[size_t(i)] = uint8_t(i);
  const std::vector<std::vector<uint8_t>> shown = {
      {},
      {0, 1, 2, 3, 4, 5},  // 1: as stored
      {2, 1, 0, 5, 4, 3},  // 2: mirrored left-right
      {5, 4, 3, 2, 1, 0},  // 3: rotated 180
      {3, 4, 5, 0, 1, 2},  // 4: mirrored top-bottom
      {0, 3, 1, 4, 2, 5},  // 5: transposed: rows become columns (2 wide, 3 high)
      {3, 0, 4, 1, 5, 2},  // 6: rotated 90 clockwise
      {5, 2, 4, 1, 3, 0},  // 7: transversed
      {2, 5, 1, 4, 0, 3},  // 8: rotated 90 counter-clockwise
  };
  for (int o = 1; o <= 8; ++o) {
    INFO("orientation " << o);
    const Image t = apply_orientation(img, o);
    CHECK(t.width == (o >= 5 ? 2 : 3));
    CHECK(t.height == (o >= 5 ? 3 : 2));
    CHECK(t.data == shown[size_t(o)]);
    Image16 deep(3, 2, 1);
    for (int i = 0; i < 6; ++i) deep.data[size_t(i)] = uint16_t(1000 * i);
    const Image16 t16 = apply_orientation(deep, o);
    for (size_t i = 0; i < 6; ++i) CHECK(t16.data[i] == 1000 * shown[size_t(o)][i]);
  }
}

TEST_CASE("EXIF orientation: JPEGs come back as PIL displays them, and their info says so", "[data][exif]") {
  const std::string dir = std::string(SRGAN_FIXTURE_DIR) + "/data/";
  for (int o = 1; o <= 8; ++o) {
    INFO("orientation " << o);
    const std::string jpg = dir + "io_exif_o" + std::to_string(o) + ".jpg";
    const Image got = read_image(jpg);
    const Image want = read_image(dir + "io_exif_o" + std::to_string(o) + "_display.png");
    REQUIRE(got.width == want.width);
    REQUIRE(got.height == want.height);
    CHECK(got.width == (o >= 5 ? 16 : 24));
    // Both decode the same quality-100 4:4:4 JPEG with libjpeg-turbo (Debian's 2.1.5 here, 3.2
    // in PIL), whose integer IDCT gives the same samples: equal (measured; stb_image, used
    // before, was up to 8 levels off). A wrong turn puts another quadrant's colour there.
    int worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(int(got.data[i]) - int(want.data[i])));
    CHECK(worst == 0);
    const ImageInfo info = read_image_info(jpg);
    CHECK(info.width == got.width);
    CHECK(info.height == got.height);
  }
}
