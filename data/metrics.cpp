// PSNR and SSIM on Y (recipe in data/metrics.h). SSIM's 11x11 Gaussian is applied as two 1-D
// passes of the normalised 1-D Gaussian (the 2-D window is their outer product, so the result
// equals filter2 'valid' with fspecial('gaussian', 11, 1.5) up to rounding, ~1e-15).
#include "data/metrics.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace srgan::data {
namespace {

void check_same(const char* what, int wa, int ha, int ca, int wb, int hb, int cb) {
  if (wa != wb || ha != hb || ca != cb)
    throw std::runtime_error(std::string(what) + ": images differ in shape, " + std::to_string(wa) + "x" +
                             std::to_string(ha) + "x" + std::to_string(ca) + " vs " + std::to_string(wb) + "x" +
                             std::to_string(hb) + "x" + std::to_string(cb));
}

// 'valid' separable filtering of a plane (H, W) with a 1-D kernel k (length K) on both axes.
ImageD filter_valid(const ImageD& in, const std::vector<double>& k) {
  const int K = int(k.size()), W = in.width, H = in.height;
  const int ow = W - K + 1, oh = H - K + 1;
  ImageD tmp(ow, H, 1), out(ow, oh, 1);
  for (int y = 0; y < H; ++y) {
    const double* s = in.row(y);
    double* d = tmp.row(y);
    for (int x = 0; x < ow; ++x) {
      double acc = 0.0;
      for (int j = 0; j < K; ++j) acc += k[j] * s[x + j];
      d[x] = acc;
    }
  }
  for (int y = 0; y < oh; ++y) {
    double* d = out.row(y);
    for (int x = 0; x < ow; ++x) d[x] = 0.0;
    for (int j = 0; j < K; ++j) {
      const double* s = tmp.row(y + j);
      for (int x = 0; x < ow; ++x) d[x] += k[j] * s[x];
    }
  }
  return out;
}

std::vector<double> gaussian_1d(int size, double sigma) {
  std::vector<double> g(size);
  const double r = (size - 1) / 2.0;
  double total = 0.0;
  for (int i = 0; i < size; ++i) {
    const double x = i - r;
    g[i] = std::exp(-(x * x) / (2.0 * sigma * sigma));
    total += g[i];
  }
  for (auto& v : g) v /= total;
  return g;
}

ImageD product(const ImageD& a, const ImageD& b) {
  ImageD out(a.width, a.height, 1);
  for (size_t i = 0; i < a.size(); ++i) out.data[i] = a.data[i] * b.data[i];
  return out;
}

}  // namespace

ImageD luma_bt601(const Image& img, LumaMode mode) {
  ImageD y(img.width, img.height, 1);
  const size_t n = img.pixels();
  if (img.channels == 1) {
    for (size_t p = 0; p < n; ++p) y.data[p] = double(img.data[p]);
    return y;
  }
  if (img.channels != 3)
    throw std::runtime_error("luma_bt601: expected a gray or RGB image, got " + std::to_string(img.channels) +
                             " channels (drop alpha first)");
  for (size_t p = 0; p < n; ++p) {
    const uint8_t* px = &img.data[3 * p];
    double v = 16.0 + (65.481 * px[0] + 128.553 * px[1] + 24.966 * px[2]) / 255.0;
    y.data[p] = mode == LumaMode::Uint8 ? std::floor(v + 0.5) : v;  // Y stays within 16..235
  }
  return y;
}

ImageD shave(const ImageD& plane, int border) {
  if (border < 0 || 2 * border >= plane.width || 2 * border >= plane.height)
    throw std::runtime_error("shave: border " + std::to_string(border) + " leaves nothing of a " +
                             std::to_string(plane.width) + "x" + std::to_string(plane.height) + " plane");
  return crop(plane, border, border, plane.width - 2 * border, plane.height - 2 * border);
}

double psnr(const ImageD& a, const ImageD& b, double peak) {
  check_same("psnr", a.width, a.height, a.channels, b.width, b.height, b.channels);
  if (a.empty()) throw std::runtime_error("psnr: empty images");
  double se = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = a.data[i] - b.data[i];
    se += d * d;
  }
  const double mse = se / double(a.size());
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(peak * peak / mse);
}

double ssim(const ImageD& a, const ImageD& b, double L) {
  check_same("ssim", a.width, a.height, a.channels, b.width, b.height, b.channels);
  if (a.channels != 1) throw std::runtime_error("ssim: expects 1-channel planes");
  if (a.width < 11 || a.height < 11)
    throw std::runtime_error("ssim: planes must be at least 11x11, got " + std::to_string(a.width) + "x" +
                             std::to_string(a.height));
  const double C1 = (0.01 * L) * (0.01 * L), C2 = (0.03 * L) * (0.03 * L);
  const std::vector<double> g = gaussian_1d(11, 1.5);
  const ImageD mu1 = filter_valid(a, g), mu2 = filter_valid(b, g);
  const ImageD s11 = filter_valid(product(a, a), g), s22 = filter_valid(product(b, b), g);
  const ImageD s12 = filter_valid(product(a, b), g);
  double total = 0.0;
  for (size_t i = 0; i < mu1.size(); ++i) {
    const double m1 = mu1.data[i], m2 = mu2.data[i];
    const double m11 = m1 * m1, m22 = m2 * m2, m12 = m1 * m2;
    const double v1 = s11.data[i] - m11, v2 = s22.data[i] - m22, v12 = s12.data[i] - m12;
    total += ((2.0 * m12 + C1) * (2.0 * v12 + C2)) / ((m11 + m22 + C1) * (v1 + v2 + C2));
  }
  return total / double(mu1.size());
}

double psnr_rgb(const Image& hr, const Image& sr, int border) {
  check_same("psnr_rgb", hr.width, hr.height, hr.channels, sr.width, sr.height, sr.channels);
  if (border < 0 || 2 * border >= hr.width || 2 * border >= hr.height)
    throw std::runtime_error("psnr_rgb: border " + std::to_string(border) + " too large for the image");
  double se = 0.0;
  size_t n = 0;
  for (int y = border; y < hr.height - border; ++y) {
    const uint8_t* a = hr.row(y) + size_t(border) * hr.channels;
    const uint8_t* b = sr.row(y) + size_t(border) * sr.channels;
    const size_t len = size_t(hr.width - 2 * border) * hr.channels;
    for (size_t i = 0; i < len; ++i) {
      const double d = double(a[i]) - double(b[i]);
      se += d * d;
    }
    n += len;
  }
  if (se == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / (se / double(n)));
}

Quality evaluate_pair(const Image& hr, const Image& sr, int border, LumaMode mode, int period) {
  check_same("evaluate_pair", hr.width, hr.height, hr.channels, sr.width, sr.height, sr.channels);
  Quality q;
  const ImageD yh_full = luma_bt601(hr, mode), ys_full = luma_bt601(sr, mode);
  const ImageD yh = shave(yh_full, border), ys = shave(ys_full, border);
  q.psnr_y = psnr(yh, ys);
  q.ssim_y = ssim(yh, ys);
  q.psnr_rgb = psnr_rgb(hr, sr, border);
  // the full planes with the border: phases count from the image's origin, not the region's
  q.artifacts.fixed_pattern = fixed_pattern_amplitude(yh_full, ys_full, border, period);
  q.artifacts.colour_shift = colour_shift(hr, sr, border);
  q.artifacts.sharpness = sharpness_ratio(yh_full, ys_full, border);
  return q;
}

}  // namespace srgan::data
