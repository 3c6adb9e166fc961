// Orientation (flip / rotate-by-90) of HWC images: one index map used as a gather (orient)
// or a scatter (unorient).
#include "data/augment.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace srgan::data {
namespace {

// Shape of the oriented image, and for each of its pixels the source pixel in the input.
struct OrientMap {
  int out_w, out_h;
  bool tr, flip_lr, flip_tb;
  OrientMap(int in_w, int in_h, int o) {
    if (o < 0 || o >= kNumOrientations) throw std::runtime_error("orientation must be 0..7, got " + std::to_string(o));
    tr = (o & 4) != 0;
    flip_lr = (o & 1) != 0;
    flip_tb = (o & 2) != 0;
    out_w = tr ? in_h : in_w;
    out_h = tr ? in_w : in_h;
  }
  // Output pixel (y, x) -> input pixel (sy, sx).
  void source(int y, int x, int* sy, int* sx) const {
    if (flip_tb) y = out_h - 1 - y;
    if (flip_lr) x = out_w - 1 - x;
    *sy = tr ? x : y;
    *sx = tr ? y : x;
  }
};

}  // namespace

Image orient(const Image& img, int o) {
  const OrientMap m(img.width, img.height, o);
  Image out(m.out_w, m.out_h, img.channels);
  const int C = img.channels;
  for (int y = 0; y < m.out_h; ++y)
    for (int x = 0; x < m.out_w; ++x) {
      int sy, sx;
      m.source(y, x, &sy, &sx);
      std::memcpy(&out.at(y, x, 0), &img.at(sy, sx, 0), size_t(C));
    }
  return out;
}

Image unorient(const Image& img, int o) {
  // img has the oriented shape; the original has it transposed back.
  const bool tr = (o & 4) != 0;
  const int in_w = tr ? img.height : img.width, in_h = tr ? img.width : img.height;
  const OrientMap m(in_w, in_h, o);
  Image out(in_w, in_h, img.channels);
  const int C = img.channels;
  for (int y = 0; y < m.out_h; ++y)
    for (int x = 0; x < m.out_w; ++x) {
      int sy, sx;
      m.source(y, x, &sy, &sx);
      std::memcpy(&out.at(sy, sx, 0), &img.at(y, x, 0), size_t(C));
    }
  return out;
}

}  // namespace srgan::data
