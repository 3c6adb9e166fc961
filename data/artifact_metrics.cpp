// Artefact metrics (see data/artifact_metrics.h): phase std of the Y residual, mean colour
// shift, Sobel sharpness ratio. Plain loops in double over the evaluated region.
#include "data/artifact_metrics.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace srgan::data {
namespace {

std::string dims(int w, int h, int c) {
  return std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(c);
}

template <typename T>
void check_pair(const char* what, const ImageT<T>& a, const ImageT<T>& b) {
  if (a.width != b.width || a.height != b.height || a.channels != b.channels)
    throw std::runtime_error(std::string(what) + ": images differ in shape, " + dims(a.width, a.height, a.channels) +
                             " vs " + dims(b.width, b.height, b.channels));
}

// The region without `border` pixels on each side must be at least min_side x min_side.
void check_region(const char* what, int width, int height, int border, int min_side) {
  if (border < 0 || width - 2 * border < min_side || height - 2 * border < min_side)
    throw std::runtime_error(std::string(what) + ": border " + std::to_string(border) + " leaves less than " +
                             std::to_string(min_side) + "x" + std::to_string(min_side) + " of a " +
                             std::to_string(width) + "x" + std::to_string(height) + " image");
}

void check_plane(const char* what, const ImageD& p) {
  if (p.channels != 1) throw std::runtime_error(std::string(what) + ": expects 1-channel (Y) planes");
}

}  // namespace

double fixed_pattern_amplitude(const ImageD& hr_y, const ImageD& sr_y, int border, int period) {
  const char* what = "fixed_pattern_amplitude";
  check_pair(what, hr_y, sr_y);
  check_plane(what, hr_y);
  if (period < 1)
    throw std::runtime_error("fixed_pattern_amplitude: period must be >= 1, got " + std::to_string(period));
  check_region(what, hr_y.width, hr_y.height, border, period);  // every phase present
  const int P = period;
  std::vector<double> sum(size_t(P) * P, 0.0);  // (P, P): phase (y mod P, x mod P)
  std::vector<double> count(size_t(P) * P, 0.0);
  for (int y = border; y < hr_y.height - border; ++y) {
    const double* h = hr_y.row(y);
    const double* s = sr_y.row(y);
    for (int x = border; x < hr_y.width - border; ++x) {
      const size_t k = size_t(y % P) * P + size_t(x % P);
      sum[k] += s[x] - h[x];
      count[k] += 1.0;
    }
  }
  double mean = 0.0;
  for (size_t k = 0; k < sum.size(); ++k) {
    sum[k] /= count[k];  // the phase mean
    mean += sum[k];
  }
  mean /= double(sum.size());
  double var = 0.0;
  for (double m : sum) var += (m - mean) * (m - mean);
  return std::sqrt(var / double(sum.size()));
}

std::vector<double> colour_shift(const Image& hr, const Image& sr, int border) {
  check_pair("colour_shift", hr, sr);
  check_region("colour_shift", hr.width, hr.height, border, 1);
  const int C = hr.channels;
  std::vector<double> shift(size_t(C), 0.0);
  for (int y = border; y < hr.height - border; ++y) {
    const uint8_t* h = hr.row(y);
    const uint8_t* s = sr.row(y);
    for (int x = border; x < hr.width - border; ++x)
      for (int c = 0; c < C; ++c) shift[size_t(c)] += double(s[x * C + c]) - double(h[x * C + c]);
  }
  const double n = double(hr.width - 2 * border) * double(hr.height - 2 * border);
  for (double& v : shift) v /= n;
  return shift;
}

double mean_gradient_magnitude(const ImageD& p) {
  check_plane("mean_gradient_magnitude", p);
  check_region("mean_gradient_magnitude", p.width, p.height, 0, 3);
  double total = 0.0;
  for (int y = 1; y < p.height - 1; ++y) {
    const double* a = p.row(y - 1);
    const double* b = p.row(y);
    const double* c = p.row(y + 1);
    for (int x = 1; x < p.width - 1; ++x) {
      // Sobel / 8: [-1 0 1; -2 0 2; -1 0 1] for d/dx, its transpose for d/dy
      const double gx = ((a[x + 1] - a[x - 1]) + 2.0 * (b[x + 1] - b[x - 1]) + (c[x + 1] - c[x - 1])) / 8.0;
      const double gy = ((c[x - 1] - a[x - 1]) + 2.0 * (c[x] - a[x]) + (c[x + 1] - a[x + 1])) / 8.0;
      total += std::sqrt(gx * gx + gy * gy);
    }
  }
  return total / (double(p.width - 2) * double(p.height - 2));
}

double sharpness_ratio(const ImageD& hr_y, const ImageD& sr_y, int border) {
  check_pair("sharpness_ratio", hr_y, sr_y);
  check_plane("sharpness_ratio", hr_y);
  check_region("sharpness_ratio", hr_y.width, hr_y.height, border, 3);
  const int w = hr_y.width - 2 * border, h = hr_y.height - 2 * border;
  const double g_hr = mean_gradient_magnitude(crop(hr_y, border, border, w, h));
  const double g_sr = mean_gradient_magnitude(crop(sr_y, border, border, w, h));
  if (g_hr == 0.0) return std::numeric_limits<double>::quiet_NaN();  // a flat original: undefined
  return g_sr / g_hr;
}

}  // namespace srgan::data
