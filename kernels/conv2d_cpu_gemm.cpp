// Fast CPU convolution through OpenBLAS GEMMs, in two formulations chosen by the channel counts:
//
//  * im2col (K >= C): col (rows, R*S*C) gathers each output pixel's window; y = col * w^T with
//    w viewed as (K, R*S*C). Backward-data scatters dcol = dy * w back (col2im); backward-weight
//    is dw = dy^T * col.
//  * transposed (K < C, e.g. SRResNet's 9x9 64->3 tail): work per *input* pixel with the weights
//    permuted to wp (C, R*S*K). Forward: z = x * wp (rows_in, R*S*K), then each output sums its
//    R*S taps from z (with stride 1, z is written transposed so the sums run over whole rows). Backward: g (rows_in, R*S*K) gathers dy for each input pixel; dx = g * wp^T
//    and dw' = g^T * x. The scratch is R*S*K wide instead of R*S*C, and no big col2im is needed.
//
// Work is split into bands (whole images, or bands of rows of one image) so the thread-local
// scratch stays under kScratchElems whatever the image size. The GEMMs use OpenBLAS's threads;
// the loops around them (im2col, gathers, scatters, bias) are spread over rows with
// kernels/cpu_parallel.h, each thread writing rows no other thread writes. A 1x1 stride-1 unpadded
// convolution uses the NHWC input directly as its column matrix.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/column_sum.h"
#include "kernels/conv2d.h"
#include "kernels/cpu_parallel.h"
#include "kernels/gemm.h"

namespace srgan::kern {
namespace {

constexpr int64_t kScratchElems = int64_t(8) << 20;  // 32 MiB of float scratch per buffer

template <typename T> std::vector<T>& scratch(int slot) {
  static thread_local std::vector<T> buf[2];
  return buf[slot];
}

bool is_pointwise(const Conv2dParams& p) { return p.R == 1 && p.S == 1 && p.stride == 1 && p.pad == 0; }
bool use_transposed(const Conv2dParams& p) { return p.K < p.C && !is_pointwise(p); }

// Images [n0, n0+nimg), rows [r0, r1) of each (nimg > 1 only with whole images).
struct Band {
  int n0, nimg, r0, r1;
  int rows() const { return r1 - r0; }
};

// Bands over N images of `rows` rows, `elems_per_row` scratch elements per row.
std::vector<Band> make_bands(int N, int rows, int64_t elems_per_row) {
  std::vector<Band> bands;
  const int64_t per_image = std::max<int64_t>(1, int64_t(rows) * elems_per_row);
  if (per_image <= kScratchElems) {
    const int group = int(std::max<int64_t>(1, std::min<int64_t>(N, kScratchElems / per_image)));
    for (int n = 0; n < N; n += group) bands.push_back({n, std::min(group, N - n), 0, rows});
  } else {
    const int per_band = int(std::max<int64_t>(1, kScratchElems / std::max<int64_t>(1, elems_per_row)));
    for (int n = 0; n < N; ++n)
      for (int r = 0; r < rows; r += per_band) bands.push_back({n, 1, r, std::min(rows, r + per_band)});
  }
  return bands;
}

// ---------------- im2col formulation ----------------

// col (band rows * Q, R*S*C) for output rows of the band; zero outside the image.
template <typename T> void im2col(const Conv2dParams& p, const T* x, const Band& b, T* col) {
  const int Q = p.Q();
  const int64_t rsc = int64_t(p.R) * p.S * p.C;
  parallel_for(int64_t(b.nimg) * b.rows(), grain_rows(Q * rsc), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {  // t = n * rows + (oh - r0): one output row of the band
      const int n = int(t / b.rows()), oh = b.r0 + int(t % b.rows());
      for (int ow = 0; ow < Q; ++ow) {
        T* row = col + (t * Q + ow) * rsc;
        for (int r = 0; r < p.R; ++r) {
          const int ih = oh * p.stride - p.pad + r;
          for (int s = 0; s < p.S; ++s) {
            const int iw = ow * p.stride - p.pad + s;
            T* dst = row + (int64_t(r) * p.S + s) * p.C;
            if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) std::fill(dst, dst + p.C, T(0));
            else std::memcpy(dst, x + ((int64_t(b.n0 + n) * p.H + ih) * p.W + iw) * p.C, sizeof(T) * p.C);
          }
        }
      }
    }
  });
}

// dx += scatter of col (the adjoint of im2col); dx is zeroed by the caller. Images go to
// different threads (rows of one image overlap in dx).
template <typename T> void col2im_add(const Conv2dParams& p, const T* col, const Band& b, T* dx) {
  const int Q = p.Q();
  const int64_t rsc = int64_t(p.R) * p.S * p.C;
  parallel_for(b.nimg, 1, [&](int64_t n0, int64_t n1) {
    for (int n = int(n0); n < int(n1); ++n)
      for (int oh = b.r0; oh < b.r1; ++oh)
        for (int ow = 0; ow < Q; ++ow) {
          const T* row = col + ((int64_t(n) * b.rows() + (oh - b.r0)) * Q + ow) * rsc;
          for (int r = 0; r < p.R; ++r) {
            const int ih = oh * p.stride - p.pad + r;
            if (ih < 0 || ih >= p.H) continue;
            for (int s = 0; s < p.S; ++s) {
              const int iw = ow * p.stride - p.pad + s;
              if (iw < 0 || iw >= p.W) continue;
              const T* src = row + (int64_t(r) * p.S + s) * p.C;
              T* dst = dx + ((int64_t(b.n0 + n) * p.H + ih) * p.W + iw) * p.C;
              for (int c = 0; c < p.C; ++c) dst[c] += src[c];
            }
          }
        }
  });
}

// First row of a band in an (N, rows, cols, ch) tensor, as an element offset.
int64_t band_offset(const Band& b, int rows, int cols, int ch) {
  return ((int64_t(b.n0) * rows + b.r0) * cols) * ch;
}

// The column matrix of a band: the input itself for a pointwise convolution, else im2col into
// the scratch buffer. (rows, R*S*C)
template <typename T> const T* band_columns(const Conv2dParams& p, const T* x, const Band& band, int rows) {
  if (is_pointwise(p)) return x + band_offset(band, p.H, p.W, p.C);
  auto& buf = scratch<T>(0);
  buf.resize(size_t(rows) * p.R * p.S * p.C);
  im2col(p, x, band, buf.data());
  return buf.data();
}

// ---------------- transposed formulation ----------------

// wp (C, R*S*K): wp[c][(r*S+s)*K + k] = w[k][r][s][c]
template <typename T> void permute_weights(const Conv2dParams& p, const T* w, T* wp) {
  const int64_t rsk = int64_t(p.R) * p.S * p.K;
  for (int k = 0; k < p.K; ++k)
    for (int r = 0; r < p.R; ++r)
      for (int s = 0; s < p.S; ++s)
        for (int c = 0; c < p.C; ++c) wp[c * rsk + (int64_t(r) * p.S + s) * p.K + k] = w[((int64_t(k) * p.R + r) * p.S + s) * p.C + c];
}

// g (band input rows * W, R*S*K): for input pixel (ih, iw) and tap (r, s), dy at the output
// pixel whose window puts tap (r, s) on it, or 0 if there is none.
template <typename T> void gather_dy(const Conv2dParams& p, const T* dy, const Band& b, T* g) {
  const int P = p.P(), Q = p.Q();
  const int64_t rsk = int64_t(p.R) * p.S * p.K;
  parallel_for(int64_t(b.nimg) * b.rows(), grain_rows(p.W * rsk), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {  // t = n * rows + (ih - r0): one input row of the band
      const int n = int(t / b.rows()), ih = b.r0 + int(t % b.rows());
      for (int iw = 0; iw < p.W; ++iw) {
        T* row = g + (t * p.W + iw) * rsk;
        for (int r = 0; r < p.R; ++r) {
          const int th = ih + p.pad - r;
          const int oh = th / p.stride;
          const bool hv = th >= 0 && th % p.stride == 0 && oh < P;
          for (int s = 0; s < p.S; ++s) {
            T* dst = row + (int64_t(r) * p.S + s) * p.K;
            const int tw = iw + p.pad - s;
            const int ow = tw / p.stride;
            if (hv && tw >= 0 && tw % p.stride == 0 && ow < Q)
              std::memcpy(dst, dy + ((int64_t(b.n0 + n) * P + oh) * Q + ow) * p.K, sizeof(T) * p.K);
            else std::fill(dst, dst + p.K, T(0));
          }
        }
      }
    }
  });
}

// Stride 1, one band: the GEMM writes z transposed, zt (R*S*K, nimg * in_rows * W), so each
// tap's contribution to an output row is a contiguous run of one input row, and the adds run
// over whole rows (they vectorise; K-wide adds per pixel, with K = 3, did not). Each output row
// is summed in planar form (K, Q) and then interleaved into NHWC.
template <typename T>
void forward_transposed_planar(const Conv2dParams& p, const T* x, const T* wp, const T* bias, T* y, const Band& b,
                               int ih_lo, int in_rows) {
  const int P = p.P(), Q = p.Q(), K = p.K;
  const int64_t rsk = int64_t(p.R) * p.S * K, cols = int64_t(b.nimg) * in_rows * p.W;
  auto& zt = scratch<T>(0);
  zt.resize(size_t(rsk * cols));
  if (in_rows > 0) {
    GemmParams g;  // zt (rsk, cols) = wp^T (rsk, C) * x^T (C, cols)
    g.transA = true; g.transB = true;
    g.M = int(rsk); g.N = int(cols); g.K = p.C;
    g.lda = int(rsk); g.ldb = p.C; g.ldc = int(cols);
    gemm_cpu_blas<T>(g, wp, x + ((int64_t(b.n0) * p.H + ih_lo) * p.W) * p.C, zt.data());
  }
  parallel_for(int64_t(b.nimg) * b.rows(), grain_rows(int64_t(Q) * rsk), [&](int64_t t0, int64_t t1) {
    std::vector<T> acc(size_t(K) * Q);  // (K, Q): one output row, planar
    for (int64_t t = t0; t < t1; ++t) {
      const int n = int(t / b.rows()), oh = b.r0 + int(t % b.rows());
      for (int k = 0; k < K; ++k) std::fill(acc.begin() + int64_t(k) * Q, acc.begin() + int64_t(k + 1) * Q, bias ? bias[k] : T(0));
      for (int r = 0; r < p.R; ++r) {
        const int ih = oh - p.pad + r;
        if (ih < ih_lo || ih >= ih_lo + in_rows) continue;  // outside the image (or the band's rows)
        const int64_t row = (int64_t(n) * in_rows + (ih - ih_lo)) * p.W;
        for (int s = 0; s < p.S; ++s) {
          const int ow0 = std::max(0, p.pad - s), ow1 = std::min(Q, p.W + p.pad - s);  // iw = ow + s - pad in [0, W)
          for (int k = 0; k < K; ++k) {
            const T* src = zt.data() + ((int64_t(r) * p.S + s) * K + k) * cols + row + (ow0 + s - p.pad);
            T* dst = acc.data() + int64_t(k) * Q + ow0;
            for (int i = 0; i < ow1 - ow0; ++i) dst[i] += src[i];
          }
        }
      }
      T* out = y + ((int64_t(b.n0 + n) * P + oh) * Q) * K;
      for (int ow = 0; ow < Q; ++ow)
        for (int k = 0; k < K; ++k) out[int64_t(ow) * K + k] = acc[int64_t(k) * Q + ow];
    }
  });
}

template <typename T> void forward_transposed(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y) {
  const int P = p.P(), Q = p.Q();
  const int64_t rsk = int64_t(p.R) * p.S * p.K;
  auto& wp = scratch<T>(1);
  wp.resize(size_t(p.C) * rsk);
  permute_weights(p, w, wp.data());
  // Bands over output rows; each needs about stride input rows per output row (plus R-1).
  for (const Band& b : make_bands(p.N, P, int64_t(p.stride) * p.W * rsk)) {
    // Input rows the band's outputs read. With several whole images in the band all H rows are
    // taken (the last rows may feed no output when stride > 1) so the images stay contiguous.
    const bool whole = b.nimg > 1;
    const int ih_lo = whole ? 0 : std::max(0, b.r0 * p.stride - p.pad);
    const int ih_hi = whole ? p.H : std::min(p.H, (b.r1 - 1) * p.stride - p.pad + p.R);
    const int in_rows = std::max(0, ih_hi - ih_lo);
    if (p.stride == 1) {
      forward_transposed_planar(p, x, wp.data(), bias, y, b, ih_lo, in_rows);
      continue;
    }
    auto& z = scratch<T>(0);  // (nimg * in_rows * W, R*S*K)
    z.resize(size_t(b.nimg) * in_rows * p.W * rsk);
    if (in_rows > 0) {
      GemmParams g;
      g.M = b.nimg * in_rows * p.W; g.N = int(rsk); g.K = p.C;
      g.lda = p.C; g.ldb = int(rsk); g.ldc = int(rsk);
      gemm_cpu_blas<T>(g, x + ((int64_t(b.n0) * p.H + ih_lo) * p.W) * p.C, wp.data(), z.data());
    }
    // Scatter: each input pixel's z row (contiguous, R*S*K) is added into the outputs its taps
    // reach; reading z once in order is much kinder to the cache than gathering 81 rows per output.
    // Threads take disjoint ranges of output rows and read the input rows that reach them.
    parallel_for(int64_t(b.nimg) * b.rows(), grain_rows(int64_t(Q) * p.K * p.R * p.S), [&](int64_t t0, int64_t t1) {
      for (int n = int(t0 / b.rows()); n < b.nimg && int64_t(n) * b.rows() < t1; ++n) {
        const int o0 = b.r0 + int(std::max<int64_t>(t0 - int64_t(n) * b.rows(), 0));
        const int o1 = b.r0 + int(std::min<int64_t>(t1 - int64_t(n) * b.rows(), b.rows()));
        for (int oh = o0; oh < o1; ++oh)
          for (int ow = 0; ow < Q; ++ow) {
            T* out = y + ((int64_t(b.n0 + n) * P + oh) * Q + ow) * p.K;
            for (int k = 0; k < p.K; ++k) out[k] = bias ? bias[k] : T(0);
          }
        const int lo = std::max(ih_lo, o0 * p.stride - p.pad), hi = std::min(ih_hi, (o1 - 1) * p.stride - p.pad + p.R);
        for (int ih = lo; ih < hi; ++ih)
          for (int iw = 0; iw < p.W; ++iw) {
            const T* zr = z.data() + ((int64_t(n) * in_rows + (ih - ih_lo)) * p.W + iw) * rsk;
            for (int r = 0; r < p.R; ++r) {
              const int th = ih + p.pad - r;
              if (th < 0 || th % p.stride) continue;
              const int oh = th / p.stride;
              if (oh < o0 || oh >= o1) continue;
              T* orow = y + ((int64_t(b.n0 + n) * P + oh) * Q) * p.K;
              for (int s = 0; s < p.S; ++s) {
                const int tw = iw + p.pad - s;
                if (tw < 0 || tw % p.stride) continue;
                const int ow = tw / p.stride;
                if (ow >= Q) continue;
                const T* src = zr + (int64_t(r) * p.S + s) * p.K;
                T* out = orow + int64_t(ow) * p.K;
                for (int k = 0; k < p.K; ++k) out[k] += src[k];
              }
            }
          }
      }
    });
  }
}

}  // namespace

template <typename T>
void conv2d_forward_cpu_gemm(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  if (use_transposed(p)) return forward_transposed(p, x, w, b, y);
  const int P = p.P(), Q = p.Q();
  const int rsc = p.R * p.S * p.C;
  for (const Band& band : make_bands(p.N, P, int64_t(Q) * rsc)) {
    const int rows = band.nimg * band.rows() * Q;
    T* yb = y + band_offset(band, P, Q, p.K);  // (rows, K)
    const T* col = band_columns(p, x, band, rows);
    if (b)
      parallel_for(rows, grain_rows(p.K), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) std::memcpy(yb + i * p.K, b, sizeof(T) * p.K);
      });
    GemmParams g;  // y (rows, K) = col (rows, rsc) * w^T (rsc, K)
    g.transB = true;
    g.M = rows; g.N = p.K; g.K = rsc;
    g.lda = rsc; g.ldb = rsc; g.ldc = p.K;
    g.beta = b ? 1.0 : 0.0;
    gemm_cpu_blas<T>(g, col, w, yb);
  }
}

template <typename T>
void conv2d_backward_data_cpu_gemm(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const int P = p.P(), Q = p.Q();
  if (use_transposed(p)) {
    const int64_t rsk = int64_t(p.R) * p.S * p.K;
    auto& wp = scratch<T>(1);
    wp.resize(size_t(p.C) * rsk);
    permute_weights(p, w, wp.data());
    for (const Band& band : make_bands(p.N, p.H, int64_t(p.W) * rsk)) {  // bands of input rows
      auto& g = scratch<T>(0);
      const int rows = band.nimg * band.rows() * p.W;
      g.resize(size_t(rows) * rsk);
      gather_dy(p, dy, band, g.data());
      GemmParams gp;  // dx (rows, C) = g (rows, rsk) * wp^T (rsk, C)
      gp.transB = true;
      gp.M = rows; gp.N = p.C; gp.K = int(rsk);
      gp.lda = int(rsk); gp.ldb = int(rsk); gp.ldc = p.C;
      gemm_cpu_blas<T>(gp, g.data(), wp.data(), dx + band_offset(band, p.H, p.W, p.C));
    }
    return;
  }
  const int rsc = p.R * p.S * p.C;
  if (!is_pointwise(p)) std::fill(dx, dx + int64_t(p.N) * p.H * p.W * p.C, T(0));
  for (const Band& band : make_bands(p.N, P, int64_t(Q) * rsc)) {
    const int rows = band.nimg * band.rows() * Q;
    GemmParams g;  // dcol (rows, rsc) = dy (rows, K) * w (K, rsc)
    g.M = rows; g.N = rsc; g.K = p.K;
    g.lda = p.K; g.ldb = rsc; g.ldc = rsc;
    const T* dyb = dy + band_offset(band, P, Q, p.K);
    if (is_pointwise(p)) {
      gemm_cpu_blas<T>(g, dyb, w, dx + band_offset(band, p.H, p.W, p.C));
    } else {
      auto& buf = scratch<T>(0);
      buf.resize(size_t(rows) * rsc);
      gemm_cpu_blas<T>(g, dyb, w, buf.data());
      col2im_add(p, buf.data(), band, dx);
    }
  }
}

template <typename T>
void conv2d_backward_weight_cpu_gemm(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  const int P = p.P(), Q = p.Q();
  if (use_transposed(p)) {
    const int64_t rsk = int64_t(p.R) * p.S * p.K;
    auto& dw2 = scratch<T>(1);  // (rsk, C)
    dw2.assign(size_t(rsk) * p.C, T(0));
    for (const Band& band : make_bands(p.N, p.H, int64_t(p.W) * rsk)) {
      auto& g = scratch<T>(0);
      const int rows = band.nimg * band.rows() * p.W;
      g.resize(size_t(rows) * rsk);
      gather_dy(p, dy, band, g.data());
      GemmParams gp;  // dw2 (rsk, C) += g^T (rsk, rows) * x (rows, C)
      gp.transA = true;
      gp.M = int(rsk); gp.N = p.C; gp.K = rows;
      gp.lda = int(rsk); gp.ldb = p.C; gp.ldc = p.C;
      gp.beta = 1.0;
      gemm_cpu_blas<T>(gp, g.data(), x + band_offset(band, p.H, p.W, p.C), dw2.data());
    }
    for (int k = 0; k < p.K; ++k)
      for (int r = 0; r < p.R; ++r)
        for (int s = 0; s < p.S; ++s)
          for (int c = 0; c < p.C; ++c)
            dw[((int64_t(k) * p.R + r) * p.S + s) * p.C + c] = dw2[((int64_t(r) * p.S + s) * p.K + k) * p.C + c];
  } else {
    const int rsc = p.R * p.S * p.C;
    bool first = true;
    for (const Band& band : make_bands(p.N, P, int64_t(Q) * rsc)) {
      const int rows = band.nimg * band.rows() * Q;
      const T* col = band_columns(p, x, band, rows);
      GemmParams g;  // dw (K, rsc) (+)= dy^T (K, rows) * col (rows, rsc)
      g.transA = true;
      g.M = p.K; g.N = rsc; g.K = rows;
      g.lda = p.K; g.ldb = rsc; g.ldc = rsc;
      g.beta = first ? 0.0 : 1.0;
      gemm_cpu_blas<T>(g, dy + band_offset(band, P, Q, p.K), col, dw);
      first = false;
    }
  }
  if (db) column_sum_cpu(dy, int64_t(p.N) * P * Q, p.K, db);
}

#define SRGAN_INSTANTIATE(T)                                                                     \
  template void conv2d_forward_cpu_gemm<T>(const Conv2dParams&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_data_cpu_gemm<T>(const Conv2dParams&, const T*, const T*, T*);     \
  template void conv2d_backward_weight_cpu_gemm<T>(const Conv2dParams&, const T*, const T*, T*, T*);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
