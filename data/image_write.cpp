// PNG writing for data/image_io.h: whole images through the streaming PngEncoder, into memory
// or atomically into a file (data/atomic_file.h).
#include <stdexcept>

#include "data/atomic_file.h"
#include "data/image_io.h"
#include "data/png_encoder.h"

namespace srgan::data {
namespace {

void check_image(const std::string& what, int w, int h, int c, size_t n) {
  if (w <= 0 || h <= 0) throw std::runtime_error(what + ": cannot encode an image with zero width or height");
  if (c < 1 || c > 4) throw std::runtime_error(what + ": PNG needs 1 to 4 channels, got " + std::to_string(c));
  if (n != size_t(w) * size_t(h) * size_t(c))
    throw std::runtime_error(what + ": buffer holds " + std::to_string(n) + " samples, expected " +
                             std::to_string(size_t(w) * h * c));
}

// Every row of `img` (Image or Image16) through a PngEncoder writing to `sink`.
template <class Img>
void encode_rows(const Img& img, int bits, const PngEncoder::Sink& sink) {
  PngEncoder png(img.width, img.height, img.channels, bits, sink);
  for (int y = 0; y < img.height; ++y) png.add_row(img.row(y));
  png.finish();
}

template <class Img>
std::vector<uint8_t> encode_to_memory(const Img& img, int bits, const char* what) {
  check_image(what, img.width, img.height, img.channels, img.size());
  std::vector<uint8_t> out;
  encode_rows(img, bits, [&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); });
  return out;
}

template <class Img>
void encode_to_file(const std::string& path, const Img& img, int bits, const char* what) {
  check_image(what, img.width, img.height, img.channels, img.size());
  AtomicFile file(path);
  encode_rows(img, bits, [&](const uint8_t* p, size_t n) { file.write(p, n); });
  file.commit();
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& img) { return encode_to_memory(img, 8, "encode_png"); }
std::vector<uint8_t> encode_png16(const Image16& img) { return encode_to_memory(img, 16, "encode_png16"); }
void write_png(const std::string& path, const Image& img) { encode_to_file(path, img, 8, "write_png"); }
void write_png16(const std::string& path, const Image16& img) { encode_to_file(path, img, 16, "write_png16"); }

}  // namespace srgan::data
