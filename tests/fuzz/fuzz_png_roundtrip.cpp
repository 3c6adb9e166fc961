// libFuzzer harness: the PNG encoder (data/png_encoder.h) round trip. The input chooses the
// image (first 5 bytes: width 1-64, height 1-16, channels 1-4, 8 or 16 bits, the filter: one of
// PNG's five or adaptive, the zlib level) and gives its samples (the rest, repeated as needed);
// the encoded file, decoded by stb_image (an independent decoder), must give every sample back.
#include <stb_image.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "data/png_encoder.h"

using srgan::data::PngEncoder;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const int w = 1 + data[0] % 64, h = 1 + data[1] % 16, c = 1 + data[2] % 4, bits = data[3] & 1 ? 16 : 8;
  PngEncoder::Options opt;
  opt.filter = int(data[3] >> 1) % 6 - 1;  // -1 adaptive, 0..4
  opt.level = 1 + data[4] % 9;
  const uint8_t* px = data + 5;
  const size_t px_n = size - 5;
  const size_t row_samples = size_t(w) * size_t(c);
  std::vector<uint16_t> samples(row_samples * size_t(h));  // (h, w, c), whatever the depth
  for (size_t i = 0; i < samples.size(); ++i) {
    const size_t j = (bits == 16 ? 2 * i : i) % px_n;
    samples[i] = bits == 16 ? uint16_t(px[j] << 8 | px[(j + 1) % px_n]) : px[j];
  }
  std::vector<uint8_t> file;
  PngEncoder png(w, h, c, bits, [&](const uint8_t* b, size_t n) { file.insert(file.end(), b, b + n); }, opt);
  std::vector<uint8_t> row8(row_samples);
  for (int y = 0; y < h; ++y) {
    const uint16_t* s = samples.data() + size_t(y) * row_samples;
    if (bits == 16) {
      png.add_row(s);
    } else {
      for (size_t i = 0; i < row_samples; ++i) row8[i] = uint8_t(s[i]);
      png.add_row(row8.data());
    }
  }
  png.finish();
  int dw = 0, dh = 0, dc = 0;
  const auto* buf = file.data();
  const int len = int(file.size());
  if (bits == 16) {
    stbi_us* back = stbi_load_16_from_memory(buf, len, &dw, &dh, &dc, c);
    if (!back || dw != w || dh != h || dc != c) std::abort();
    const bool same = std::memcmp(back, samples.data(), samples.size() * 2) == 0;
    stbi_image_free(back);
    if (!same) std::abort();
  } else {
    stbi_uc* back = stbi_load_from_memory(buf, len, &dw, &dh, &dc, c);
    if (!back || dw != w || dh != h || dc != c) std::abort();
    for (size_t i = 0; i < samples.size(); ++i)
      if (back[i] != samples[i]) std::abort();
    stbi_image_free(back);
  }
  return 0;
}
