// PngEncoder (see png_encoder.h): PNG chunks and filters written here, compression by zlib.
#include "data/png_encoder.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace srgan::data {

struct PngEncoder::Zlib {
  z_stream s{};
  bool open = false;
  ~Zlib() {
    if (open) deflateEnd(&s);
  }
};

namespace {

constexpr size_t kChunkBytes = size_t(256) << 10;  // IDAT payload

void put32(uint8_t* p, uint32_t x) {  // big-endian, as every PNG integer
  p[0] = uint8_t(x >> 24);
  p[1] = uint8_t(x >> 16);
  p[2] = uint8_t(x >> 8);
  p[3] = uint8_t(x);
}

inline uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return uint8_t(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// PNG filter `f` of one row: out[i] = cur[i] - predictor(left a, up b, up-left c), where left
// neighbours before the first pixel are 0. Returns the sum of |signed byte| of the output.
long filter_row(int f, const uint8_t* cur, const uint8_t* prev, size_t len, int bpp, uint8_t* out) {
  const size_t k = std::min(len, size_t(bpp));
  for (size_t i = 0; i < k; ++i) {  // the first pixel: a = c = 0
    const int b = prev[i];
    const int pred = f == 0 ? 0 : f == 1 ? 0 : f == 2 ? b : f == 3 ? b / 2 : paeth(0, b, 0);
    out[i] = uint8_t(cur[i] - pred);
  }
  switch (f) {  // one loop per filter, so the compiler vectorises the simple ones
    case 0: std::memcpy(out + k, cur + k, len - k); break;
    case 1: for (size_t i = k; i < len; ++i) out[i] = uint8_t(cur[i] - cur[i - bpp]); break;
    case 2: for (size_t i = k; i < len; ++i) out[i] = uint8_t(cur[i] - prev[i]); break;
    case 3: for (size_t i = k; i < len; ++i) out[i] = uint8_t(cur[i] - ((cur[i - bpp] + prev[i]) >> 1)); break;
    default: for (size_t i = k; i < len; ++i) out[i] = uint8_t(cur[i] - paeth(cur[i - bpp], prev[i], prev[i - bpp]));
  }
  long cost = 0;
  for (size_t i = 0; i < len; ++i) cost += std::abs(int(int8_t(out[i])));
  return cost;
}

}  // namespace

PngEncoder::PngEncoder(int width, int height, int channels, int bits, Sink sink, const Options& opt)
    : z_(new Zlib), width_(width), height_(height), channels_(channels), bits_(bits), filter_(opt.filter), sink_(std::move(sink)) {
  const int level = opt.level;
  if (width <= 0 || height <= 0)
    throw std::runtime_error("PNG encoder: cannot encode a " + std::to_string(width) + "x" + std::to_string(height) + " image");
  if (channels < 1 || channels > 4) throw std::runtime_error("PNG encoder: PNG needs 1 to 4 channels, got " + std::to_string(channels));
  if (bits != 8 && bits != 16) throw std::runtime_error("PNG encoder: 8 or 16 bits per sample, got " + std::to_string(bits));
  if (level < 1 || level > 9) throw std::runtime_error("PNG encoder: zlib level must be 1-9, got " + std::to_string(level));
  if (filter_ < -1 || filter_ > 4) throw std::runtime_error("PNG encoder: filter must be -1 (adaptive) or 0-4, got " + std::to_string(filter_));
  bpp_ = channels * bits / 8;
  row_bytes_ = size_t(width) * size_t(bpp_);
  if (row_bytes_ + 1 > (size_t(1) << 30)) throw std::runtime_error("PNG encoder: a row of " + std::to_string(width) + " pixels is too long");
  cur_.resize(row_bytes_);
  prev_.assign(row_bytes_, 0);
  trial_.resize(5 * (row_bytes_ + 1));
  chunk_.resize(kChunkBytes);
  // Z_FILTERED: tuned for data that went through PNG's filters (small values, few long matches).
  if (deflateInit2(&z_->s, level, Z_DEFLATED, 15, 8, Z_FILTERED) != Z_OK)
    throw std::runtime_error("PNG encoder: zlib initialisation failed");
  z_->open = true;
  z_->s.next_out = chunk_.data();
  z_->s.avail_out = uInt(chunk_.size());

  static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  sink_(sig, 8);
  static const uint8_t color_type[5] = {0, 0, 4, 2, 6};  // by channel count: gray, gray+alpha, RGB, RGBA
  uint8_t ihdr[13];
  put32(ihdr, uint32_t(width));
  put32(ihdr + 4, uint32_t(height));
  ihdr[8] = uint8_t(bits);
  ihdr[9] = color_type[channels];
  ihdr[10] = ihdr[11] = ihdr[12] = 0;  // deflate, adaptive filtering, no interlace
  emit_chunk("IHDR", ihdr, sizeof ihdr);
}

PngEncoder::~PngEncoder() = default;

void PngEncoder::check_usable() const {
  if (failed_) throw std::runtime_error("PNG encoder: an earlier write failed; the stream is incomplete");
}

void PngEncoder::add_row(const uint8_t* row) {
  check_usable();
  if (bits_ != 8) throw std::runtime_error("PNG encoder: an 8-bit row given to a 16-bit image");
  std::memcpy(cur_.data(), row, row_bytes_);
  add_filtered_row();
}

void PngEncoder::add_row(const uint16_t* row) {
  check_usable();
  if (bits_ != 16) throw std::runtime_error("PNG encoder: a 16-bit row given to an 8-bit image");
  for (size_t i = 0; i < size_t(width_) * size_t(channels_); ++i) {
    cur_[2 * i] = uint8_t(row[i] >> 8);  // PNG samples are big-endian
    cur_[2 * i + 1] = uint8_t(row[i] & 0xFF);
  }
  add_filtered_row();
}

void PngEncoder::add_filtered_row() {
  if (finished_ || rows_ >= height_)
    throw std::runtime_error("PNG encoder: more than the " + std::to_string(height_) + " rows of the image");
  const size_t stride = row_bytes_ + 1;
  int best = 0;
  long best_cost = -1;
  for (int f = filter_ < 0 ? 0 : filter_; f <= (filter_ < 0 ? 4 : filter_); ++f) {
    uint8_t* out = &trial_[size_t(f) * stride];
    out[0] = uint8_t(f);  // each filtered row starts with its filter type
    const long cost = filter_row(f, cur_.data(), prev_.data(), row_bytes_, bpp_, out + 1);
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best = f;
  }
  try {
    deflate_bytes(&trial_[size_t(best) * stride], stride, rows_ + 1 == height_);
  } catch (...) {
    failed_ = true;
    throw;
  }
  ++rows_;
  std::swap(cur_, prev_);
}

void PngEncoder::deflate_bytes(const uint8_t* p, size_t n, bool last) {
  z_stream& s = z_->s;
  s.next_in = const_cast<Bytef*>(p);  // zlib's API is not const-correct; it only reads
  s.avail_in = uInt(n);
  const int flush = last ? Z_FINISH : Z_NO_FLUSH;
  for (;;) {
    const int r = deflate(&s, flush);
    if (r == Z_STREAM_ERROR) throw std::runtime_error("PNG encoder: zlib deflate failed");
    if (last && r == Z_STREAM_END) break;
    if (s.avail_out == 0) {  // the chunk is full: send it, go on with an empty one
      emit_idat();
      continue;
    }
    if (!last && s.avail_in == 0) break;
    if (r == Z_BUF_ERROR) throw std::runtime_error("PNG encoder: zlib made no progress");
  }
}

void PngEncoder::emit_idat() {
  const size_t n = chunk_.size() - z_->s.avail_out;
  if (n > 0) emit_chunk("IDAT", chunk_.data(), n);
  z_->s.next_out = chunk_.data();
  z_->s.avail_out = uInt(chunk_.size());
}

void PngEncoder::emit_chunk(const char type[4], const uint8_t* data, size_t n) {
  uint8_t head[8], tail[4];
  put32(head, uint32_t(n));
  std::memcpy(head + 4, type, 4);
  uLong crc = crc32(0L, head + 4, 4);  // over the type and the data, not the length
  if (n > 0) crc = crc32(crc, data, uInt(n));
  put32(tail, uint32_t(crc));
  sink_(head, 8);
  if (n > 0) sink_(data, n);
  sink_(tail, 4);
}

void PngEncoder::finish() {
  check_usable();
  if (finished_) throw std::runtime_error("PNG encoder: finish() called twice");
  if (rows_ != height_)
    throw std::runtime_error("PNG encoder: finished after " + std::to_string(rows_) + " of " + std::to_string(height_) + " rows");
  try {
    emit_idat();
    emit_chunk("IEND", nullptr, 0);
  } catch (...) {
    failed_ = true;
    throw;
  }
  finished_ = true;
}

}  // namespace srgan::data
