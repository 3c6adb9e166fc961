// MATLAB imresize(..., 'bicubic'), bit-exact for uint8 images (the field's LR recipe and the
// bicubic upscaling baseline). The recipe, checked against published MATLAB LR files
// (../shared/data/SOURCES.md; tests/test_data_resize.cpp):
//   - Keys cubic kernel, a = -0.5, 4 px wide;
//   - downscaling (scale < 1) antialiases: the kernel becomes scale * k(scale * x), 4/scale wide;
//     upscaling uses k as is;
//   - output pixel x (1-based) samples input position u = x / scale + 0.5 * (1 - 1 / scale);
//     taps are floor(u - width/2) + 0 .. ceil(width)+1, weights normalised per output pixel;
//   - out-of-range taps are clamped to the border (replicate), as older MATLAB releases did
//     (newer ones mirror; the two differ only in the outer 2 (down) / 4 (x4 up) pixels);
//   - separable: the dimension with the smaller scale first; for equal scales height (MATLAB
//     dim 1) then width;
//   - for uint8 the intermediate is rounded half up and clipped to 0..255 before the second pass;
//     sums are in double, taps in order.
// Output size for a scale s: ceil(s * in) per side, as MATLAB.
//
// LAYOUT: HWC in and out (data/image.h); every channel is filtered independently.
#pragma once
#include <functional>
#include <vector>

#include "data/image.h"

namespace srgan::data {

// Weights and clamped 0-based source indices of one dimension: (out_len, taps) each.
struct ResizeWeights {
  int in_len = 0;
  int out_len = 0;
  int taps = 0;
  std::vector<double> weight;  // (out_len, taps), each row sums to 1
  std::vector<int> index;      // (out_len, taps), in [0, in_len)
};

// MATLAB's contributions(): `scale` is out/in (e.g. 0.25 for x4 downscaling).
ResizeWeights bicubic_weights(int in_len, int out_len, double scale);

// MATLAB-exact uint8 resize by one scale for both sides; output ceil(scale * in).
Image imresize_bicubic(const Image& img, double scale);
// To a given size (scale per side = out / in, as MATLAB's imresize(A, [rows cols])).
Image imresize_bicubic(const Image& img, int out_width, int out_height);
// The same filter on float images, with no rounding anywhere (MATLAB on single/double input).
ImageF imresize_bicubic(const ImageF& img, double scale);

// imresize_bicubic(img, factor) one output row at a time, bit for bit the same rows: for images
// whose upscaled whole would not fit in memory (`srgan upscale`'s alpha plane). The input is
// read a row at a time too, through `RowSource` (so it can stay 8- or 16-bit, or be a view of
// interleaved channels), and only the rows the bicubic taps need are held (6 at most).
class BicubicRowUpscaler {
 public:
  // Fills `out` (width, channels) with input row y as floats.
  using RowSource = std::function<void(int y, float* out)>;
  BicubicRowUpscaler(int width, int height, int channels, RowSource source, int factor);
  BicubicRowUpscaler(const ImageF& img, int factor);  // `img` must outlive it
  BicubicRowUpscaler(ImageF&&, int) = delete;         // it keeps a reference: no temporaries
  int out_width() const { return ww_.out_len; }
  int out_height() const { return wh_.out_len; }
  void row(int y, float* out);  // out: (out_width, channels)

 private:
  const float* input_row(int y);  // from the cache, read through source_ on a miss

  int width_, channels_;
  RowSource source_;
  ResizeWeights wh_, ww_;
  std::vector<std::vector<float>> cache_;  // (taps) rows of (W, C), most recently read
  std::vector<int> cached_y_;              // the input row each cache slot holds (-1: none)
  size_t next_slot_ = 0;
  std::vector<double> acc_;  // (W * C) scratch of the height pass
  std::vector<float> mid_;   // (W, C): input row after the height pass
};

// Downscaling by an integer factor (2, 3, 4, ...): scale 1 / factor. The sides should be
// multiples of `factor` (modcrop first); otherwise the output is ceil(side / factor), as MATLAB.
Image downscale_bicubic(const Image& img, int factor);
// Upscaling by an integer factor: the bicubic baseline of super-resolution tables.
Image upscale_bicubic(const Image& img, int factor);

}  // namespace srgan::data
