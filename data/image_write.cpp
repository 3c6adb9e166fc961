// PNG encoding (8-bit through stb_image_write, 16-bit through our own chunk writer around stb's
// zlib compressor) and atomic file writes: temporary file in the same folder, fsync, rename.
#include <stb_image_write.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

#include "data/image_io.h"

// stb_image_write compiles this with external C linkage (STBIWDEF) but does not declare it in
// its header section; Debian's libstb exports it.
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

namespace srgan::data {
namespace {

void check_image(const std::string& what, int w, int h, int c, size_t n) {
  if (w <= 0 || h <= 0) throw std::runtime_error(what + ": cannot encode an image with zero width or height");
  if (c < 1 || c > 4) throw std::runtime_error(what + ": PNG needs 1 to 4 channels, got " + std::to_string(c));
  if (n != size_t(w) * size_t(h) * size_t(c))
    throw std::runtime_error(what + ": buffer holds " + std::to_string(n) + " samples, expected " +
                             std::to_string(size_t(w) * h * c));
}

uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  static uint32_t table[256];
  static const bool init = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)init;
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void put32(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(uint8_t(x >> 24));
  v.push_back(uint8_t(x >> 16));
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const uint8_t* data, size_t n) {
  put32(out, uint32_t(n));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data, data + n);
  put32(out, crc32(out.data() + start, n + 4));
}

uint8_t paeth(int a, int b, int c) {
  int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return uint8_t(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Filters one row of `len` bytes (bpp bytes per pixel) with each PNG filter and keeps the one
// whose output has the smallest sum of |signed byte| (the usual heuristic).
void filter_row(const uint8_t* cur, const uint8_t* prev, size_t len, int bpp, uint8_t* out) {
  std::vector<uint8_t> best, trial(len);
  long best_cost = -1;
  for (int f = 0; f < 5; ++f) {
    long cost = 0;
    for (size_t i = 0; i < len; ++i) {
      int a = i >= size_t(bpp) ? cur[i - bpp] : 0, b = prev ? prev[i] : 0;
      int c = (prev && i >= size_t(bpp)) ? prev[i - bpp] : 0;
      int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth(a, b, c);
      trial[i] = uint8_t(cur[i] - pred);
      cost += std::abs(int(int8_t(trial[i])));
    }
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      out[0] = uint8_t(f);
      best = trial;
    }
  }
  std::memcpy(out + 1, best.data(), len);
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::vector<uint8_t> encode_png(const Image& img) {
  check_image("encode_png", img.width, img.height, img.channels, img.size());
  std::vector<uint8_t> out;
  auto sink = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(sink, &out, img.width, img.height, img.channels, img.data.data(),
                              img.width * img.channels))
    throw std::runtime_error("encode_png: stb_image_write failed for a " + std::to_string(img.width) + "x" +
                             std::to_string(img.height) + " image");
  return out;
}

std::vector<uint8_t> encode_png16(const Image16& img) {
  check_image("encode_png16", img.width, img.height, img.channels, img.size());
  const int bpp = 2 * img.channels;                  // bytes per pixel
  const size_t row_bytes = size_t(img.width) * bpp;  // big-endian samples
  std::vector<uint8_t> raw((row_bytes + 1) * img.height), cur(row_bytes), prev(row_bytes);
  for (int y = 0; y < img.height; ++y) {
    const uint16_t* src = img.row(y);
    for (size_t i = 0; i < size_t(img.width) * img.channels; ++i) {
      cur[2 * i] = uint8_t(src[i] >> 8);
      cur[2 * i + 1] = uint8_t(src[i] & 0xFF);
    }
    filter_row(cur.data(), y ? prev.data() : nullptr, row_bytes, bpp, raw.data() + y * (row_bytes + 1));
    std::swap(cur, prev);
  }
  if (raw.size() > size_t(0x7fffffff)) throw std::runtime_error("encode_png16: image too large for one PNG");
  int zlen = 0;
  unsigned char* z = stbi_zlib_compress(raw.data(), int(raw.size()), &zlen, 8);
  if (!z) throw std::runtime_error("encode_png16: zlib compression failed");
  static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  static const uint8_t color_type[5] = {0, 0, 4, 2, 6};  // by channel count: gray, gray+alpha, RGB, RGBA
  std::vector<uint8_t> out(sig, sig + 8), ihdr;
  put32(ihdr, uint32_t(img.width));
  put32(ihdr, uint32_t(img.height));
  ihdr.insert(ihdr.end(), {16, color_type[img.channels], 0, 0, 0});  // depth, type, deflate, filter, no interlace
  put_chunk(out, "IHDR", ihdr.data(), ihdr.size());
  put_chunk(out, "IDAT", z, size_t(zlen));
  std::free(z);
  put_chunk(out, "IEND", nullptr, 0);
  return out;
}

void write_file_atomic(const std::string& path, const void* bytes, size_t n) {
  static std::atomic<uint64_t> counter{0};
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) throw std::runtime_error("cannot write '" + path + "': the path names a folder");
  const std::string tmp = dir + "." + base + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error("cannot write '" + path + "': creating '" + tmp + "' failed (" + errno_text() + ")");
  const auto* p = static_cast<const uint8_t*>(bytes);
  size_t done = 0;
  std::string err;
  while (done < n) {
    ssize_t k = ::write(fd, p + done, n - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      err = "writing failed (" + errno_text() + ")";
      break;
    }
    done += size_t(k);
  }
  if (err.empty() && ::fsync(fd) != 0) err = "fsync failed (" + errno_text() + ")";
  if (::close(fd) != 0 && err.empty()) err = "close failed (" + errno_text() + ")";
  if (err.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) err = "rename failed (" + errno_text() + ")";
  if (!err.empty()) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write '" + path + "': " + err);
  }
}

void write_png(const std::string& path, const Image& img) {
  auto bytes = encode_png(img);
  write_file_atomic(path, bytes.data(), bytes.size());
}

void write_png16(const std::string& path, const Image16& img) {
  auto bytes = encode_png16(img);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace srgan::data
