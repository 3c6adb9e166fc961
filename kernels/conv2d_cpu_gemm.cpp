// Fast CPU convolution: im2col on NHWC input, then one GEMM (OpenBLAS) per chunk of images.
//   col (rows = images_in_chunk*P*Q, R*S*C)   weights viewed as (K, R*S*C)
// A 1x1 stride-1 unpadded convolution skips im2col (the NHWC input already is the column matrix).
// Columns live in a thread-local scratch buffer that grows once and is reused.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"

namespace srgan::kern {
namespace {

template <typename T> std::vector<T>& scratch() {
  static thread_local std::vector<T> buf;
  return buf;
}

bool is_pointwise(const Conv2dParams& p) { return p.R == 1 && p.S == 1 && p.stride == 1 && p.pad == 0; }

// Images per GEMM: enough rows to keep the GEMM efficient, few enough to bound the scratch (~32 MiB).
int chunk_images(const Conv2dParams& p) {
  int64_t rows = int64_t(p.P()) * p.Q();
  int64_t rsc = int64_t(p.R) * p.S * p.C;
  int64_t by_rows = std::max<int64_t>(1, 8192 / std::max<int64_t>(rows, 1));
  int64_t by_mem = std::max<int64_t>(1, (int64_t(8) << 20) / std::max<int64_t>(rows * rsc, 1));
  return int(std::min<int64_t>({by_rows, by_mem, int64_t(p.N)}));
}

// col (nimg*P*Q, R*S*C) from x images [n0, n0+nimg); zero where the window leaves the image.
template <typename T> void im2col(const Conv2dParams& p, const T* x, int n0, int nimg, T* col) {
  const int P = p.P(), Q = p.Q();
  const int64_t rsc = int64_t(p.R) * p.S * p.C;
  for (int n = 0; n < nimg; ++n)
    for (int oh = 0; oh < P; ++oh)
      for (int ow = 0; ow < Q; ++ow) {
        T* row = col + ((int64_t(n) * P + oh) * Q + ow) * rsc;
        for (int r = 0; r < p.R; ++r) {
          int ih = oh * p.stride - p.pad + r;
          for (int s = 0; s < p.S; ++s) {
            int iw = ow * p.stride - p.pad + s;
            T* dst = row + (int64_t(r) * p.S + s) * p.C;
            if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) {
              std::fill(dst, dst + p.C, T(0));
            } else {
              const T* src = x + ((int64_t(n0 + n) * p.H + ih) * p.W + iw) * p.C;
              std::memcpy(dst, src, sizeof(T) * p.C);
            }
          }
        }
      }
}

// dx images [n0, n0+nimg) += scatter of col; dx must be zeroed by the caller.
template <typename T> void col2im_add(const Conv2dParams& p, const T* col, int n0, int nimg, T* dx) {
  const int P = p.P(), Q = p.Q();
  const int64_t rsc = int64_t(p.R) * p.S * p.C;
  for (int n = 0; n < nimg; ++n)
    for (int oh = 0; oh < P; ++oh)
      for (int ow = 0; ow < Q; ++ow) {
        const T* row = col + ((int64_t(n) * P + oh) * Q + ow) * rsc;
        for (int r = 0; r < p.R; ++r) {
          int ih = oh * p.stride - p.pad + r;
          if (ih < 0 || ih >= p.H) continue;
          for (int s = 0; s < p.S; ++s) {
            int iw = ow * p.stride - p.pad + s;
            if (iw < 0 || iw >= p.W) continue;
            const T* src = row + (int64_t(r) * p.S + s) * p.C;
            T* dst = dx + ((int64_t(n0 + n) * p.H + ih) * p.W + iw) * p.C;
            for (int c = 0; c < p.C; ++c) dst[c] += src[c];
          }
        }
      }
}

}  // namespace

template <typename T>
void conv2d_forward_cpu_gemm(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const int64_t PQ = int64_t(p.P()) * p.Q();
  const int rsc = p.R * p.S * p.C;
  const int chunk = chunk_images(p);
  for (int n0 = 0; n0 < p.N; n0 += chunk) {
    const int nimg = std::min(chunk, p.N - n0);
    const int rows = int(nimg * PQ);
    T* yc = y + int64_t(n0) * PQ * p.K;  // (rows, K)
    const T* col;
    if (is_pointwise(p)) {
      col = x + int64_t(n0) * PQ * p.C;
    } else {
      auto& buf = scratch<T>();
      buf.resize(size_t(rows) * rsc);
      im2col(p, x, n0, nimg, buf.data());
      col = buf.data();
    }
    if (b)
      for (int i = 0; i < rows; ++i) std::memcpy(yc + int64_t(i) * p.K, b, sizeof(T) * p.K);
    GemmParams g;
    g.transB = true;
    g.M = rows; g.N = p.K; g.K = rsc;
    g.lda = rsc; g.ldb = rsc; g.ldc = p.K;
    g.beta = b ? 1.0 : 0.0;
    gemm_cpu_blas<T>(g, col, w, yc);
  }
}

template <typename T>
void conv2d_backward_data_cpu_gemm(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const int64_t PQ = int64_t(p.P()) * p.Q();
  const int rsc = p.R * p.S * p.C;
  const int chunk = chunk_images(p);
  if (!is_pointwise(p)) std::fill(dx, dx + int64_t(p.N) * p.H * p.W * p.C, T(0));
  for (int n0 = 0; n0 < p.N; n0 += chunk) {
    const int nimg = std::min(chunk, p.N - n0);
    const int rows = int(nimg * PQ);
    GemmParams g;  // dcol (rows, rsc) = dy (rows, K) * w (K, rsc)
    g.M = rows; g.N = rsc; g.K = p.K;
    g.lda = p.K; g.ldb = rsc; g.ldc = rsc;
    const T* dyc = dy + int64_t(n0) * PQ * p.K;
    if (is_pointwise(p)) {
      gemm_cpu_blas<T>(g, dyc, w, dx + int64_t(n0) * PQ * p.C);
    } else {
      auto& buf = scratch<T>();
      buf.resize(size_t(rows) * rsc);
      gemm_cpu_blas<T>(g, dyc, w, buf.data());
      col2im_add(p, buf.data(), n0, nimg, dx);
    }
  }
}

template <typename T>
void conv2d_backward_weight_cpu_gemm(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  const int64_t PQ = int64_t(p.P()) * p.Q();
  const int rsc = p.R * p.S * p.C;
  const int chunk = chunk_images(p);
  for (int n0 = 0; n0 < p.N; n0 += chunk) {
    const int nimg = std::min(chunk, p.N - n0);
    const int rows = int(nimg * PQ);
    const T* col;
    if (is_pointwise(p)) {
      col = x + int64_t(n0) * PQ * p.C;
    } else {
      auto& buf = scratch<T>();
      buf.resize(size_t(rows) * rsc);
      im2col(p, x, n0, nimg, buf.data());
      col = buf.data();
    }
    GemmParams g;  // dw (K, rsc) (+)= dy^T (K, rows) * col (rows, rsc)
    g.transA = true;
    g.M = p.K; g.N = rsc; g.K = rows;
    g.lda = p.K; g.ldb = rsc; g.ldc = rsc;
    g.beta = n0 == 0 ? 0.0 : 1.0;
    gemm_cpu_blas<T>(g, dy + int64_t(n0) * PQ * p.K, col, dw);
  }
  if (db) {
    std::vector<double> acc(p.K, 0.0);
    const int64_t rows = int64_t(p.N) * PQ;
    for (int64_t i = 0; i < rows; ++i)
      for (int k = 0; k < p.K; ++k) acc[k] += double(dy[i * p.K + k]);
    for (int k = 0; k < p.K; ++k) db[k] = T(acc[k]);
  }
}

#define SRGAN_INSTANTIATE(T)                                                                     \
  template void conv2d_forward_cpu_gemm<T>(const Conv2dParams&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_data_cpu_gemm<T>(const Conv2dParams&, const T*, const T*, T*);     \
  template void conv2d_backward_weight_cpu_gemm<T>(const Conv2dParams&, const T*, const T*, T*, T*);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
