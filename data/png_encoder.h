// A streaming PNG encoder (8- or 16-bit, gray / gray+alpha / RGB / RGBA): rows go in one at a
// time, top to bottom; each row is filtered (of PNG's five filters the one whose output has the
// smallest sum of |signed byte|, the usual heuristic), deflated by zlib, and the compressed
// bytes leave through the sink in IDAT chunks of at most 256 KiB. It holds two rows and one
// chunk, whatever the image size: `srgan upscale` streams a 16000x12000 result to disk without
// ever holding it whole.
//
// Use: PngEncoder png(w, h, channels, bits, sink); png.add_row(...) h times; png.finish().
// Errors (std::runtime_error): bad sizes, a row of the wrong depth, too many rows, finish()
// before the last row, zlib failures; whatever the sink throws passes through.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace srgan::data {

class PngEncoder {
 public:
  using Sink = std::function<void(const uint8_t* bytes, size_t n)>;
  struct Options {
    // zlib 1 (fastest) to 9 (smallest). On a 4800x2992 `srgan upscale` output (2026-11-27):
    // level 1 0.38 s / 10.7 MB, 3 0.80 s / 9.7 MB, 6 (zlib's default) 2.47 s / 8.3 MB, beside
    // stb_image_write's 1.7 s / 13.3 MB. 3 is the trade.
    int level = 3;
    int filter = -1;  // -1: adaptive (per row, as above); 0-4: that PNG filter on every row
  };
  // Writes the PNG signature and IHDR through `sink` at once.
  PngEncoder(int width, int height, int channels, int bits, Sink sink) : PngEncoder(width, height, channels, bits, std::move(sink), Options{}) {}
  PngEncoder(int width, int height, int channels, int bits, Sink sink, const Options& opt);
  ~PngEncoder();
  PngEncoder(const PngEncoder&) = delete;
  PngEncoder& operator=(const PngEncoder&) = delete;

  void add_row(const uint8_t* row);   // bits == 8: (width, channels) samples
  void add_row(const uint16_t* row);  // bits == 16: (width, channels) samples, host byte order
  void finish();                      // after the last row: the last IDAT and IEND
  int rows_added() const { return rows_; }

 private:
  void add_filtered_row();                 // filters cur_ against prev_ and deflates it
  void check_usable() const;               // throws once a call has failed part-way
  void deflate_bytes(const uint8_t* p, size_t n, bool last);
  void emit_chunk(const char type[4], const uint8_t* data, size_t n);
  void emit_idat();

  struct Zlib;
  std::unique_ptr<Zlib> z_;
  int width_, height_, channels_, bits_, filter_, rows_ = 0;
  bool finished_ = false;
  bool failed_ = false;  // a sink or zlib error part-way: the stream is broken, every later call throws
  size_t row_bytes_;                 // width * channels * bits / 8
  int bpp_;                          // bytes per pixel (the filters' left neighbour distance)
  std::vector<uint8_t> cur_, prev_;  // (row_bytes): this row and the one above (zeros at first)
  std::vector<uint8_t> trial_;       // (5, 1 + row_bytes): each filter's output
  std::vector<uint8_t> chunk_;       // compressed bytes waiting for their IDAT chunk
  Sink sink_;
};

}  // namespace srgan::data
