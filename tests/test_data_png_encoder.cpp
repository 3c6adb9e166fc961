// The streaming PNG encoder (data/png_encoder.h) and atomic files (data/atomic_file.h): files
// decoded by stb_image (an independent decoder) give back every sample with each of PNG's five
// filters forced on every row (so each filter's formula is checked by the decoder) and with
// adaptive filtering, whose choices for rows built to favour one filter are read back from the
// zlib-inflated stream; chunk lengths and CRCs follow the spec; IDAT
// chunks stay within 256 KiB; misuse is refused; an abandoned file leaves the target untouched.
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "data/atomic_file.h"
#include "data/image_io.h"
#include "data/png_encoder.h"
#include "tests/test_common.h"

using namespace srgan::data;
using srgan::test::TempDir;
namespace fs = std::filesystem;

namespace {

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

struct Chunk {
  std::string type;
  std::vector<uint8_t> data;
  bool crc_ok;
};

// Splits a PNG file into its chunks (after checking the signature), checking each CRC.
std::vector<Chunk> chunks_of(const std::vector<uint8_t>& png) {
  static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  REQUIRE(png.size() >= 8);
  REQUIRE(std::equal(sig, sig + 8, png.begin()));
  std::vector<Chunk> out;
  size_t at = 8;
  while (at < png.size()) {
    REQUIRE(at + 12 <= png.size());
    const uint32_t n = be32(&png[at]);
    REQUIRE(at + 12 + n <= png.size());
    Chunk c{std::string(png.begin() + long(at) + 4, png.begin() + long(at) + 8),
            std::vector<uint8_t>(png.begin() + long(at) + 8, png.begin() + long(at) + 8 + n), false};
    c.crc_ok = crc32(0L, &png[at + 4], uInt(4 + n)) == be32(&png[at + 8 + n]);  // over type and data
    out.push_back(std::move(c));
    at += 12 + n;
  }
  return out;
}

// The filtered scanlines: every IDAT's data joined and inflated, (h, 1 + row_bytes).
std::vector<uint8_t> inflated(const std::vector<Chunk>& chunks, size_t expect) {
  std::vector<uint8_t> z;
  for (auto& c : chunks)
    if (c.type == "IDAT") z.insert(z.end(), c.data.begin(), c.data.end());
  std::vector<uint8_t> raw(expect + 1);  // one spare byte: a longer stream would fill it
  uLongf len = uLongf(raw.size());
  REQUIRE(uncompress(raw.data(), &len, z.data(), uLong(z.size())) == Z_OK);
  REQUIRE(len == expect);
  raw.resize(expect);
  return raw;
}

// Raw scanline bytes (7, row_bytes): 0 zeros (adaptive filtering picks none), 1 random, 2 a
// ramp (picks sub), 3 random, 4 a copy of row 3 (picks up), 5 smooth in both directions, 6
// random. Bytes, not samples, so it works for any depth and channel count.
std::vector<uint8_t> test_rows(size_t row_bytes, int bpp, std::mt19937& rng) {
  const int h = 7;
  std::vector<uint8_t> img(row_bytes * h);
  auto at = [&](int y, size_t i) -> uint8_t& { return img[size_t(y) * row_bytes + i]; };
  for (size_t i = 0; i < row_bytes; ++i) {
    at(0, i) = 0;
    at(1, i) = uint8_t(rng());
    at(2, i) = i < size_t(bpp) ? uint8_t(90 + i) : uint8_t(at(2, i - bpp) + 3);
    at(3, i) = uint8_t(rng());
    at(4, i) = at(3, i);
    at(5, i) = uint8_t(7 * (i / bpp) + 40 * (i % bpp) + rng() % 3);
    at(6, i) = uint8_t(rng());
  }
  return img;
}

}  // namespace

TEST_CASE("PNG encoder: every filter, forced or chosen per row, decodes to every sample with stb", "[data][png]") {
  std::mt19937 rng(7);
  for (auto [channels, bits] : {std::pair{1, 8}, {3, 8}, {4, 8}, {2, 16}, {3, 16}}) {
    for (int width : {1, 2, 37}) {
      for (int filter = -1; filter <= 4; ++filter) {
        INFO(channels << " channels, " << bits << " bits, width " << width << ", filter " << filter);
        const int bpp = channels * bits / 8;
        const size_t row_bytes = size_t(width) * bpp;
        const std::vector<uint8_t> bytes = test_rows(row_bytes, bpp, rng);
        const int h = int(bytes.size() / row_bytes);
        std::vector<uint8_t> png;
        PngEncoder::Options opt;
        opt.filter = filter;
        PngEncoder enc(width, h, channels, bits, [&](const uint8_t* p, size_t n) { png.insert(png.end(), p, p + n); }, opt);
        std::vector<uint16_t> row16(size_t(width) * channels);
        for (int y = 0; y < h; ++y) {
          const uint8_t* r = &bytes[size_t(y) * row_bytes];
          if (bits == 8) {
            enc.add_row(r);
          } else {
            for (size_t i = 0; i < row16.size(); ++i) row16[i] = uint16_t(r[2 * i] << 8 | r[2 * i + 1]);
            enc.add_row(row16.data());
          }
        }
        enc.finish();

        const auto chunks = chunks_of(png);
        REQUIRE(chunks.size() >= 3);
        CHECK(chunks.front().type == "IHDR");
        CHECK(chunks.back().type == "IEND");
        for (auto& c : chunks) CHECK(c.crc_ok);
        const std::vector<uint8_t> raw = inflated(chunks, size_t(h) * (row_bytes + 1));
        auto filter_of = [&](int y) { return int(raw[size_t(y) * (row_bytes + 1)]); };
        if (filter >= 0) {
          for (int y = 0; y < h; ++y) CHECK(filter_of(y) == filter);
        } else if (width > 2) {  // with 1 or 2 pixels a row can tie between filters
          CHECK(filter_of(0) == 0);  // zeros: none (the lowest of the tied filters)
          CHECK(filter_of(2) == 1);  // ramp: sub
          CHECK(filter_of(4) == 2);  // copy of the row above: up (Paeth ties, higher)
        }

        ReadOptions ro;
        ro.channels = ChannelMode::Stored;
        if (bits == 8) {
          const Image back = decode_image(png, "filters.png", ro);
          REQUIRE(back.channels == channels);
          REQUIRE(back.width == width);
          CHECK(back.data == bytes);
        } else {
          TempDir tmp("png16");
          const std::string p = tmp.file("deep.png");
          write_file_atomic(p, png.data(), png.size());
          const Image16 back = read_image16(p, ro);
          REQUIRE(back.channels == channels);
          REQUIRE(back.size() == bytes.size() / 2);
          for (size_t i = 0; i < back.size(); ++i)
            REQUIRE(back.data[i] == uint16_t(bytes[2 * i] << 8 | bytes[2 * i + 1]));
        }
      }
    }
  }
}

TEST_CASE("PNG encoder: a large noisy image goes out in IDAT chunks of at most 256 KiB and decodes exactly", "[data][png]") {
  std::mt19937 rng(3);
  Image img(700, 500, 3);  // ~1 MB of noise: several chunks
  for (auto& v : img.data) v = uint8_t(rng());
  const std::vector<uint8_t> png = encode_png(img);
  const auto chunks = chunks_of(png);
  int idats = 0;
  for (auto& c : chunks) {
    CHECK(c.crc_ok);
    if (c.type != "IDAT") continue;
    ++idats;
    CHECK(c.data.size() <= size_t(256) << 10);
  }
  CHECK(idats >= 4);
  ReadOptions ro;
  ro.channels = ChannelMode::Stored;
  CHECK(decode_image(png, "noise.png", ro).data == img.data);
}

TEST_CASE("PNG encoder: misuse is refused with a message", "[data][png]") {
  auto sink = [](const uint8_t*, size_t) {};
  CHECK_THROWS_WITH(PngEncoder(0, 5, 3, 8, sink), srgan::test::Contains("0x5"));
  CHECK_THROWS_WITH(PngEncoder(4, 4, 5, 8, sink), srgan::test::Contains("1 to 4 channels"));
  CHECK_THROWS_WITH(PngEncoder(4, 4, 3, 12, sink), srgan::test::Contains("8 or 16 bits"));
  PngEncoder::Options bad_filter;
  bad_filter.filter = 5;
  CHECK_THROWS_WITH(PngEncoder(4, 4, 3, 8, sink, bad_filter), srgan::test::Contains("filter must be"));
  PngEncoder enc(2, 2, 1, 8, sink);
  const uint8_t row[2] = {1, 2};
  const uint16_t row16[2] = {1, 2};
  CHECK_THROWS_WITH(enc.add_row(row16), srgan::test::Contains("16-bit row given to an 8-bit image"));
  enc.add_row(row);
  CHECK_THROWS_WITH(enc.finish(), srgan::test::Contains("after 1 of 2 rows"));
  enc.add_row(row);
  CHECK_THROWS_WITH(enc.add_row(row), srgan::test::Contains("more than the 2 rows"));
  enc.finish();
  CHECK(enc.rows_added() == 2);
}

TEST_CASE("PNG encoder: after a write fails part-way, every later call refuses instead of writing a broken file", "[data][png]") {
  std::mt19937 rng(5);
  std::vector<uint8_t> row(700 * 3);  // noise rows: the 256 KiB chunks fill and leave during add_row
  int sink_calls = 0;
  PngEncoder enc(700, 500, 3, 8, [&](const uint8_t*, size_t) {
    if (++sink_calls > 6) throw std::runtime_error("disk full");  // signature + IHDR (3) + one IDAT (3) pass
  });
  int y = 0;
  bool threw = false;
  for (; y < 500 && !threw; ++y) {
    for (auto& v : row) v = uint8_t(rng());
    try {
      enc.add_row(row.data());
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) == "disk full");
      threw = true;
    }
  }
  REQUIRE(threw);
  CHECK(y < 500);
  CHECK_THROWS_WITH(enc.add_row(row.data()), srgan::test::Contains("earlier write failed"));
  CHECK_THROWS_WITH(enc.finish(), srgan::test::Contains("earlier write failed"));
}

TEST_CASE("atomic file: abandoned, the target keeps its old content and no temporary file stays", "[data][png]") {
  TempDir tmp("atomic");
  const std::string p = tmp.file("out.png");
  write_file_atomic(p, std::string("old"));
  auto content = [&] {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  auto leftovers = [&] {
    int n = 0;
    for (auto& e : fs::directory_iterator(tmp.path)) n += e.path().filename().string() != "out.png";
    return n;
  };
  {
    AtomicFile f(p);
    f.write("new, but never committed", 24);
    CHECK(leftovers() == 1);  // the temporary file, beside the target
  }
  CHECK(content() == "old");
  CHECK(leftovers() == 0);
  {
    AtomicFile f(p);
    f.write("new", 3);
    f.commit();
    CHECK_THROWS_WITH(f.write("x", 1), srgan::test::Contains("already closed"));
  }
  CHECK(content() == "new");
  CHECK(leftovers() == 0);
  CHECK_THROWS_WITH(AtomicFile(tmp.file("missing/x.png")), srgan::test::Contains("missing/x.png"));
}
