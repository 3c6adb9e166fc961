// The pixel limit of data/image_io.h for every format the readers accept (PNG, JPEG, BMP): a
// header claiming 100000x100000 pixels is refused as "too large", naming the file, the size and
// the limit, by read_image and read_image_info alike, before anything is decoded (stb_image used
// to report such a PNG as "unknown image type"). Files that are none of the three are named so.
// PNGs whose chunks claim more bytes than the file has, or whose data inflates past what the
// header needs, are refused before stb_image would allocate up to 4 GB for them
// (data/png_check.h); interlaced PNGs, whose size the check computes per Adam7 pass, still read.
// Zero-length IDAT chunks (valid PNG, but stb_image copies the first to a null buffer) are
// dropped before stb sees the file: the image reads as it does without them.
#include <string>
#include <vector>

#include "data/image_io.h"
#include "tests/test_common.h"

using namespace srgan::data;
using srgan::test::error_of;
using srgan::test::file_bytes;
using srgan::test::write_bytes;

namespace {

void put_be(std::vector<uint8_t>& b, size_t at, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + size_t(i)] = uint8_t(v >> (8 * (bytes - 1 - i)));
}
void put_le(std::vector<uint8_t>& b, size_t at, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + size_t(i)] = uint8_t(v >> (8 * i));
}

// A 4x3 image of each format with its header's sides replaced by w x h.
std::vector<uint8_t> png_claiming(uint32_t w, uint32_t h) {
  std::vector<uint8_t> b = encode_png(Image(4, 3, 3, 128));
  put_be(b, 16, w, 4);  // IHDR: width, then height (the chunk's CRC no longer matches: not read)
  put_be(b, 20, h, 4);
  return b;
}
std::vector<uint8_t> bmp_claiming(uint32_t w, uint32_t h) {
  std::vector<uint8_t> b(54 + 4 * 3 * 3, 0);  // BITMAPFILEHEADER + BITMAPINFOHEADER, 24-bit rows
  b[0] = 'B', b[1] = 'M';
  put_le(b, 2, uint32_t(b.size()), 4);
  put_le(b, 10, 54, 4);  // pixel data offset
  put_le(b, 14, 40, 4);  // info header size
  put_le(b, 18, w, 4);
  put_le(b, 22, h, 4);
  put_le(b, 26, 1, 2);   // planes
  put_le(b, 28, 24, 2);  // bits per pixel
  return b;
}
std::vector<uint8_t> jpeg_claiming(uint16_t w, uint16_t h) {
  std::vector<uint8_t> b = file_bytes(std::string(SRGAN_FIXTURE_DIR) + "/data/jpeg_gray.jpg");
  for (size_t i = 0; i + 9 < b.size(); ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xC0) {  // SOF0: length (2), precision (1), height (2), width (2)
      put_be(b, i + 5, h, 2);
      put_be(b, i + 7, w, 2);
      return b;
    }
  FAIL("no SOF0 marker in jpeg_gray.jpg");
  return b;
}

}  // namespace

TEST_CASE("image limits: a header claiming too many pixels is 'too large' in every format", "[data][io]") {
  srgan::test::TempDir tmp("limits");
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string size;  // as the message must give it
  };
  const std::vector<Case> cases = {
      {"huge.png", png_claiming(100000, 100000), "100000x100000 = 10000000000 pixels"},
      {"huge.bmp", bmp_claiming(100000, 100000), "100000x100000 = 10000000000 pixels"},
      {"huge_top_down.bmp", bmp_claiming(100000, uint32_t(-100000)), "100000x100000 = 10000000000 pixels"},
      {"huge.jpg", jpeg_claiming(60000, 60000), "60000x60000 = 3600000000 pixels"},
      // Over libjpeg's own limit of 65500 per side: still our message, which names the limit.
      {"widest.jpg", jpeg_claiming(65535, 65535), "65535x65535 = 4294836225 pixels"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string path = tmp.file(c.name);
    write_bytes(path, c.bytes);
    const std::string want = "image file '" + path + "' is too large: " + c.size + " exceeds the limit of " +
                             std::to_string(kDefaultMaxPixels);
    CHECK(error_of([&] { read_image(path); }) == want);
    CHECK(error_of([&] { read_image_info(path); }) == want);
    CHECK(error_of([&] { read_image16(path); }) == want);
  }
  // Within the limit the same headers get as far as the pixel data (absent or too short here).
  write_bytes(tmp.file("ok.png"), png_claiming(4, 3));
  CHECK(read_image_info(tmp.file("ok.png")).width == 4);
  write_bytes(tmp.file("ok.bmp"), bmp_claiming(4000, 3));
  CHECK(read_image_info(tmp.file("ok.bmp")).width == 4000);
}

TEST_CASE("image limits: formats other than PNG, JPEG and BMP are refused by name", "[data][io]") {
  srgan::test::TempDir tmp("formats");
  const std::string gif = tmp.file("anim.png");  // a GIF header under a .png name
  write_bytes(gif, {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0});
  const std::string want =
      "image file '" + gif + "' is not an image: neither PNG, JPEG nor BMP (it starts with bytes 47 49 46 38)";
  CHECK(error_of([&] { read_image(gif); }) == want);
  CHECK(error_of([&] { read_image_info(gif); }) == want);
}

TEST_CASE("image limits: a PNG cannot make the decoder allocate more than its header needs", "[data][io]") {
  srgan::test::TempDir tmp("png_bombs");
  // A chunk length of 2^31 - 1 (found by the fuzzer: stb grew its buffer to 2 GB for it).
  std::vector<uint8_t> b = encode_png(Image(4, 3, 3, 128));
  REQUIRE(std::string(b.begin() + 37, b.begin() + 41) == "IDAT");  // after signature (8) and IHDR (25)
  const size_t after = b.size() - 33 - 8;                           // bytes after the IDAT's length and type
  const std::vector<uint8_t> valid = b;
  put_be(b, 33, 0x7fffffff, 4);
  const std::string claims = tmp.file("claims.png");
  write_bytes(claims, b);
  CHECK(error_of([&] { read_image(claims); }) ==
        "image file '" + claims + "' is truncated or corrupt (chunk 'IDAT' at byte 33 claims 2147483647 bytes and a "
        "4-byte CRC, but only " + std::to_string(after) + " bytes follow)");
  // The same claim in a last chunk cut short after its length and type (found by the fuzzer: a
  // 75-byte file whose 8 last bytes began a chunk; stb asked for 2 GB).
  b.assign(valid.begin(), valid.end() - 12);  // without IEND
  const size_t tail = b.size();
  b.insert(b.end(), {0x40, 0, 0, 0, 'I', 'D', 'A', 'T', 1, 2});
  const std::string cut = tmp.file("cut.png");
  write_bytes(cut, b);
  CHECK(error_of([&] { read_image(cut); }) ==
        "image file '" + cut + "' is truncated or corrupt (chunk 'IDAT' at byte " + std::to_string(tail) +
            " claims 1073741824 bytes and a 4-byte CRC, but only 2 bytes follow)");
  // A valid file still reads.
  write_bytes(tmp.file("valid.png"), valid);
  CHECK(read_image(tmp.file("valid.png")).width == 4);
  // 2000x1000 zeros deflate to a few KB; the header then says 1x1 RGB: 1 + 3 bytes of data.
  b = encode_png(Image(2000, 1000, 3, 0));
  REQUIRE(b.size() < 100000);
  put_be(b, 16, 1, 4), put_be(b, 20, 1, 4);
  const std::string bomb = tmp.file("bomb.png");
  write_bytes(bomb, b);
  CHECK(error_of([&] { read_image(bomb); }) == "image file '" + bomb +
                                                   "' is truncated or corrupt (its image data inflates to more than "
                                                   "the 4 bytes its header needs)");
  // Interlaced files, 8-bit RGB and 1-bit gray, 13x9 (every Adam7 pass, partial bytes): as PIL.
  for (const char* name : {"rgb8", "gray1"}) {
    INFO(name);
    ReadOptions ro;
    ro.channels = ChannelMode::Stored;
    const std::string dir = std::string(SRGAN_FIXTURE_DIR) + "/data/io_adam7_";
    const Image got = read_image(dir + name + ".png", ro), want = read_image(dir + name + "_pil.png", ro);
    REQUIRE(got.width == 13);
    CHECK(got.data == want.data);
  }
}

TEST_CASE("image limits: zero-length IDAT chunks read as the file without them", "[data][io]") {
  srgan::test::TempDir tmp("png_empty_idat");
  Image img(5, 4, 3);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = uint8_t(i * 37 + 11);
  const std::vector<uint8_t> valid = encode_png(img);
  REQUIRE(std::string(valid.begin() + 37, valid.begin() + 41) == "IDAT");
  // An empty IDAT (length 0, type, CRC-32 of "IDAT") before the real one and one after it.
  const std::vector<uint8_t> empty = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
  std::vector<uint8_t> b(valid.begin(), valid.end() - 12);  // without IEND
  b.insert(b.end(), empty.begin(), empty.end());
  b.insert(b.end(), valid.end() - 12, valid.end());
  b.insert(b.begin() + 33, empty.begin(), empty.end());
  const std::string path = tmp.file("empty_idat.png");
  write_bytes(path, b);
  const Image got = read_image(path);
  REQUIRE(got.width == 5);
  REQUIRE(got.height == 4);
  CHECK(got.data == img.data);
  CHECK(read_image_info(path).width == 5);
  // The fuzzer's find (an 8x6 1-bit file whose only IDAT is empty, then the end): truncated.
  const std::string found = tmp.file("found.png");
  write_bytes(found, file_bytes(std::string(SRGAN_SOURCE_DIR_FOR_TESTS) +
                                "/tests/fuzz/corpus/image_read/stb_ubsan_null_empty_idat.png"));
  CHECK(error_of([&] { read_image(found); }) ==
        "image file '" + found + "' is truncated or corrupt (it ends at byte 45 without an IEND chunk)");
}
