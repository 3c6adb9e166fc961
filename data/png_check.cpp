// The PNG bounds check of png_check.h: a walk of the chunks, then zlib inflating the IDAT data
// into a 64 KiB scratch buffer while counting the bytes it gives; and the copy without empty IDATs.
#include "data/png_check.h"

#include <zlib.h>

#include <cstring>
#include <vector>

namespace srgan::data {
namespace {

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// The bytes of filtered image data an IHDR asks for (one filter byte per row, per Adam7 pass
// when interlaced), or 0 when the IHDR is not one we understand (stb then reports it).
uint64_t expected_data_bytes(const uint8_t* ihdr) {
  const uint64_t w = be32(ihdr), h = be32(ihdr + 4);
  const int depth = ihdr[8], colour = ihdr[9], interlace = ihdr[12];
  int samples = 0;  // per pixel
  switch (colour) {
    case 0: samples = 1; break;  // gray
    case 2: samples = 3; break;  // RGB
    case 3: samples = 1; break;  // palette index
    case 4: samples = 2; break;  // gray + alpha
    case 6: samples = 4; break;  // RGBA
    default: return 0;
  }
  if (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16) return 0;
  const uint64_t bits = uint64_t(samples) * uint64_t(depth);
  auto pass = [&](uint64_t x0, uint64_t y0, uint64_t dx, uint64_t dy) -> uint64_t {
    const uint64_t pw = w > x0 ? (w - x0 + dx - 1) / dx : 0, ph = h > y0 ? (h - y0 + dy - 1) / dy : 0;
    return pw && ph ? ph * (1 + (pw * bits + 7) / 8) : 0;
  };
  if (interlace == 0) return pass(0, 0, 1, 1);
  if (interlace != 1) return 0;
  return pass(0, 0, 8, 8) + pass(4, 0, 8, 8) + pass(0, 4, 4, 8) + pass(2, 0, 4, 4) + pass(0, 2, 2, 4) +
         pass(1, 0, 2, 2) + pass(0, 1, 1, 2);
}

// Inflates IDAT data as it comes, counting the output against a limit.
class InflateCounter {
 public:
  explicit InflateCounter(uint64_t limit) : limit_(limit), scratch_(size_t(1) << 16) {
    std::memset(&z_, 0, sizeof z_);
    ok_ = inflateInit(&z_) == Z_OK;
  }
  ~InflateCounter() {
    if (ok_) inflateEnd(&z_);
  }
  // False once the output exceeds the limit. Stops counting (true) at the end of the stream or
  // at data zlib refuses: that is stb's to report.
  bool feed(const uint8_t* p, size_t n) {
    z_.next_in = const_cast<Bytef*>(p);
    z_.avail_in = uInt(n);
    while (ok_ && z_.avail_in > 0) {
      z_.next_out = scratch_.data();
      z_.avail_out = uInt(scratch_.size());
      const int rc = inflate(&z_, Z_NO_FLUSH);
      total_ += scratch_.size() - z_.avail_out;
      if (total_ > limit_) return false;
      if (rc != Z_OK) break;  // Z_STREAM_END, or an error stb will meet too
    }
    return true;
  }
  uint64_t total() const { return total_; }

 private:
  z_stream z_;
  bool ok_ = false;
  uint64_t limit_, total_ = 0;
  std::vector<Bytef> scratch_;
};

}  // namespace

std::string png_structure_problem(const uint8_t* b, size_t n) {
  if (n >= 16 && std::memcmp(b + 12, "CgBI", 4) == 0)  // raw deflate, which stb would inflate unbounded
    return "it is an Apple CgBI PNG, which is not read";
  if (n < 8 + 12 + 13 || std::memcmp(b + 12, "IHDR", 4) != 0 || be32(b + 8) != 13)
    return "";  // no IHDR first: stb refuses it with its own words
  const uint64_t expected = expected_data_bytes(b + 16);
  InflateCounter idat(expected);
  // Every chunk whose length and type are there (stb reads a chunk from those 8 bytes on, so a
  // truncated last chunk's length must be checked too: a 75-byte file ending in half a chunk
  // made stb ask for 2 GB) must hold its data and CRC in the bytes that follow.
  for (size_t pos = 8; pos + 8 <= n;) {
    const uint64_t len = be32(b + pos);
    const std::string type(reinterpret_cast<const char*>(b + pos + 4), 4);
    if (type == "IEND") return "";  // stb stops here and reads no more
    const uint64_t rest = n - pos - 8;  // after this chunk's length and type
    if (len + 4 > rest)
      return "chunk '" + type + "' at byte " + std::to_string(pos) + " claims " + std::to_string(len) +
             " bytes and a 4-byte CRC, but only " + std::to_string(rest) + " bytes follow";
    if (type == "IDAT" && expected > 0 && !idat.feed(b + pos + 8, size_t(len)))
      return "its image data inflates to more than the " + std::to_string(expected) + " bytes its header needs";
    pos += 12 + size_t(len);
  }
  // stb decodes at IEND only; without one it reads zeros past the end as a chunk of type 0 and
  // reports that with an empty reason.
  return "it ends at byte " + std::to_string(n) + " without an IEND chunk";
}

std::vector<uint8_t> png_without_empty_idat(const uint8_t* b, size_t n) {
  std::vector<size_t> empty;  // where each zero-length IDAT chunk (12 bytes) starts
  for (size_t pos = 8; pos + 12 <= n && std::memcmp(b + pos + 4, "IEND", 4) != 0; pos += 12 + size_t(be32(b + pos)))
    if (be32(b + pos) == 0 && std::memcmp(b + pos + 4, "IDAT", 4) == 0) empty.push_back(pos);
  if (empty.empty()) return {};
  std::vector<uint8_t> out;
  size_t from = 0;
  for (const size_t e : empty) {
    out.insert(out.end(), b + from, b + e);
    from = e + 12;
  }
  out.insert(out.end(), b + from, b + n);
  return out;
}

}  // namespace srgan::data
