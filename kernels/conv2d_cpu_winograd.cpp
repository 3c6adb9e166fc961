// CPU 3x3 stride-1 convolution by Winograd's minimal filtering, F(m x m, 3 x 3) with m = 2 or 4
// (Lavin & Gray 2015), NHWC activations and KRSC weights, through OpenBLAS GEMMs.
//
// The output is cut into m x m tiles; tile t reads an a x a input patch d (a = m + 2). Then
//   y_tile = A^T [ (G g G^T) (.) (B^T d B) ] A      for each (input channel, output channel) pair,
// where (.) is the elementwise product. Summing over input channels turns the a*a elementwise
// products into a*a independent GEMMs, one per position xi = (i, j) of the transformed tile:
//   U[xi] (K, C)     = G w G^T             weights, transformed once per call
//   V[xi] (tiles, C) = B^T d B             input patches, transformed per block of tiles
//   M[xi] (tiles, K) = V[xi] * U[xi]^T     a*a GEMMs
//   y (m x m, K)     = A^T M A + bias      per tile, written where it falls inside the output
// V and M are stored tile-major, (tiles, a*a, C): a tile's transform reads and writes one
// contiguous run, and the GEMMs take V[xi] and M[xi] as matrices with a row stride of a*a*C.
// A 3x3 convolution costs 9 multiply-adds per output, input and output channel; F(2x2) needs
// 16/4 = 4 and F(4x4) 36/16 = 2.25 in the GEMMs, plus transforms that cost a few additions per
// element. F(4x4)'s larger coefficients cost some accuracy (tests/test_conv_winograd.cpp states
// the tolerances).
//
// Backward-data of a stride-1 3x3 convolution is itself one: dx = conv(dy, w') with pad' = 2 - pad
// and w'[c][r][s][k] = w[k][2-r][2-s][c], so it runs through the same code with the flipped
// weights read straight from w by the weight transform (`flipped`).
//
// Backward-weight correlates each input patch d (a x a) with its tile of output gradients e
// (m x m) to give a 3 x 3 result: F(3 x 3, m x m). The bilinear form y_i = sum_k g_k d_(i+k) is
// symmetric in i and k, so the same matrices serve with A and G exchanged (Lavin & Gray, sec. 4):
//   dw (3 x 3) = G^T [ sum over tiles of (A e A^T) (.) (B^T d B) ] G
// The sum over tiles becomes a*a GEMMs with the tiles as the reduction dimension:
//   E[xi] (tiles, K) = A e A^T,   V[xi] (tiles, C) = B^T d B,   dW[xi] (K, C) = E[xi]^T V[xi]
//
// Each transform is two passes of apply_matrix (down the columns of a tile, then along its rows),
// which applies a small constant matrix to channel vectors (contiguous in NHWC), 16 channels at
// a time. The a*a GEMMs of a block are small, so they run one per thread
// (gemm_cpu_blas_strided_batch) rather than each split over the cores.
#include <algorithm>
#include <vector>

#include "kernels/column_sum.h"
#include "kernels/conv2d.h"
#include "kernels/cpu_parallel.h"
#include "kernels/gemm.h"

namespace srgan::kern {

bool conv2d_winograd_applies(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.stride == 1 && p.pad >= 0 && p.pad <= 2 && p.C >= 16 && p.K >= 16 &&
         p.P() > 0 && p.Q() > 0;
}

namespace {

// The transform matrices of F(m x m, 3 x 3) (Lavin & Gray 2015, interpolation points 0, +-1, +-2).
template <int m> struct Winograd;
template <> struct Winograd<2> {
  static constexpr int a = 4;
  static constexpr double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
  static constexpr double A[4][2] = {{1, 0}, {1, 1}, {1, -1}, {0, -1}};
  static constexpr double GT[3][4] = {{1, 0.5, 0.5, 0}, {0, 0.5, -0.5, 0}, {0, 0.5, 0.5, 1}};
};
template <> struct Winograd<4> {
  static constexpr int a = 6;
  static constexpr double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                      {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  static constexpr double AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
  // Their transposes, for the weight gradient.
  static constexpr double A[6][4] = {{1, 0, 0, 0}, {1, 1, 1, 1}, {1, -1, 1, -1}, {1, 2, 4, 8}, {1, -2, 4, -8}, {0, 0, 0, 1}};
  static constexpr double GT[3][6] = {{1.0 / 4, -1.0 / 6, -1.0 / 6, 1.0 / 24, 1.0 / 24, 0},
                                      {0, -1.0 / 6, 1.0 / 6, 1.0 / 12, -1.0 / 12, 0},
                                      {0, -1.0 / 6, -1.0 / 6, 1.0 / 6, 1.0 / 6, 1}};
};

template <int R, int C> constexpr bool is_transpose(const double (&X)[R][C], const double (&Y)[C][R]) {
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j)
      if (X[i][j] != Y[j][i]) return false;
  return true;
}
static_assert(is_transpose(Winograd<2>::AT, Winograd<2>::A) && is_transpose(Winograd<2>::G, Winograd<2>::GT));
static_assert(is_transpose(Winograd<4>::AT, Winograd<4>::A) && is_transpose(Winograd<4>::G, Winograd<4>::GT));

// out[i][0..n) = add[0..n) + sum over u of Mx[i][u] * in[u][0..n): a small constant matrix applied
// to `cols` channel vectors. It works on 16 channels at a time held in local arrays, so each
// input is loaded once and each output stored once. Inlined, the loops over i and u have
// compile-time bounds and constant coefficients: they unroll, and the test for a zero
// coefficient folds away with its term. add may be nullptr.
template <int rows, int cols, typename T>
[[gnu::always_inline]] inline void apply_matrix(const double (&Mx)[rows][cols], const T* const (&in)[cols],
                                                T* const (&out)[rows], int n, const T* add = nullptr) {
  constexpr int L = 16;
  T v[cols][L], o[rows][L];  // not zero-initialised: that was a `rep stos` on every call
  for (int c0 = 0; c0 < n; c0 += L) {
    // A full chunk copies with a constant length (vector moves); only a channel tail is variable.
    const int w = std::min(L, n - c0);
    if (w == L) {
      for (int u = 0; u < cols; ++u)
        for (int c = 0; c < L; ++c) v[u][c] = in[u][c0 + c];
    } else {  // a channel tail: the lanes past it are computed on zeros and not stored
      for (int u = 0; u < cols; ++u)
        for (int c = 0; c < L; ++c) v[u][c] = c < w ? in[u][c0 + c] : T(0);
    }
#pragma GCC unroll 8
    for (int i = 0; i < rows; ++i)
      for (int c = 0; c < L; ++c) {
        T acc = T(0);
#pragma GCC unroll 8
        for (int u = 0; u < cols; ++u)
          if (Mx[i][u] != 0.0) acc += T(Mx[i][u]) * v[u][c];  // 0 * x cannot be folded (NaN, -0)
        o[i][c] = acc;
      }
    if (add)
      for (int i = 0; i < rows; ++i)
        for (int c = 0; c < w; ++c) o[i][c] += add[c0 + c];
    if (w == L) {
      for (int i = 0; i < rows; ++i)
        for (int c = 0; c < L; ++c) out[i][c0 + c] = o[i][c];
    } else {
      for (int i = 0; i < rows; ++i)
        for (int c = 0; c < w; ++c) out[i][c0 + c] = o[i][c];
    }
  }
}

// out(i, j) = sum over u, v of Mx[i][u] in(u, v) Mx[j][v] for channel vectors of length n: Mx
// down the columns of the little 2-D array, then along its rows. in(u, v) and out(i, j) give
// pointers (out may point at a scratch row for results that are not wanted). tmp holds
// rows * cols * n elements.
template <int rows, int cols, typename T, typename In, typename Out>
void transform_2d(const double (&Mx)[rows][cols], In in, Out out, int n, T* tmp, const T* add = nullptr) {
  for (int v = 0; v < cols; ++v) {
    const T* src[cols];
    T* dst[rows];
    for (int u = 0; u < cols; ++u) src[u] = in(u, v);
    for (int i = 0; i < rows; ++i) dst[i] = tmp + size_t(i * cols + v) * n;
    apply_matrix(Mx, src, dst, n);
  }
  for (int i = 0; i < rows; ++i) {
    const T* src[cols];
    T* dst[rows];
    for (int v = 0; v < cols; ++v) src[v] = tmp + size_t(i * cols + v) * n;
    for (int j = 0; j < rows; ++j) dst[j] = out(i, j);
    apply_matrix(Mx, src, dst, n, add);
  }
}

// The tiles of an output (N, P, Q): m x m each, numbered n-major, then tile row, then tile column.
struct Tiles {
  int m, tiles_h, tiles_w;
  int64_t count;
  Tiles(int m_, int N, int P, int Q) : m(m_), tiles_h((P + m_ - 1) / m_), tiles_w((Q + m_ - 1) / m_) {
    count = int64_t(N) * tiles_h * tiles_w;
  }
  void at(int64_t t, int* n, int* oh, int* ow) const {  // image and top-left output pixel of tile t
    *n = int(t / (int64_t(tiles_h) * tiles_w));
    *oh = int(t / tiles_w % tiles_h) * m;
    *ow = int(t % tiles_w) * m;
  }
  // Tiles per block, so that the block's transformed data (a*a * block * (C + K) elements) stays
  // near 4 MiB of floats.
  int64_t block(int a, int C, int K) const {
    const int64_t fit = std::max<int64_t>((int64_t(1) << 20) / (int64_t(a) * a * (C + K)), 32);
    return std::min(fit, std::max<int64_t>(count, 1));
  }
};

// The calling thread's scratch buffers, kept between calls: fresh multi-MiB vectors would be
// fresh pages from the kernel on every call. Callers bind them to local references before any
// parallel_for: a thread_local named inside the lambdas would be the pool thread's own.
template <typename T> std::vector<T>& scratch(int slot) {
  static thread_local std::vector<T> buf[3];
  return buf[slot];
}

// V[bt][xi] (block, aa, C) = B^T d B for tiles t0 .. t0+nb of x (N, H, W, C); d is the a x a patch
// whose top-left pixel is (oh - pad, ow - pad), zero outside the image.
template <int m, typename T>
void transform_input(const Conv2dParams& p, const Tiles& tl, const T* x, int64_t t0, int nb, T* V) {
  using W = Winograd<m>;
  constexpr int a = W::a;
  const int C = p.C;
  const std::vector<T> zeros(C, T(0));
  parallel_for(nb, grain_rows(int64_t(a) * a * C * 4), [&](int64_t b0, int64_t b1) {
    std::vector<T> tmp(size_t(a) * a * C);
    for (int64_t bt = b0; bt < b1; ++bt) {
      int n, oh, ow;
      tl.at(t0 + bt, &n, &oh, &ow);
      auto in = [&](int u, int v) {
        const int ih = oh - p.pad + u, iw = ow - p.pad + v;
        return (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) ? zeros.data() : x + ((int64_t(n) * p.H + ih) * p.W + iw) * C;
      };
      auto out = [&](int i, int j) { return V + (size_t(bt) * a * a + i * a + j) * C; };
      transform_2d(W::BT, in, out, C, tmp.data());
    }
  });
}

// One convolution through the transforms, y (N, P, Q, K) from x (N, H, W, C). The weights w are
// stored (Kw, 3, 3, Cw). Forward: Kw = K, Cw = C. With `flipped` (backward-data), w is the
// weight of the convolution being differentiated, Kw = C and Cw = K, and the tap (r, s) from
// channel c to channel k is w[c][2-r][2-s][k].
template <int m, typename T>
void winograd_conv(const Conv2dParams& p, const T* x, const T* w, bool flipped, const T* bias, T* y) {
  using W = Winograd<m>;
  constexpr int a = W::a, aa = a * a;
  const int C = p.C, K = p.K, P = p.P(), Q = p.Q();
  const int Kw = flipped ? C : K, Cw = flipped ? K : C;
  const Tiles tl(m, p.N, P, Q);
  std::vector<T>& U = scratch<T>(0);  // (aa, Kw, Cw)
  std::vector<T>& V = scratch<T>(1);  // (block, aa, C)
  std::vector<T>& M = scratch<T>(2);  // (block, aa, K)

  // Row kw of U[xi] is G g G^T at xi for the 3x3 kernels g = w[kw][.][.][0..Cw), computed for all
  // Cw channels at once (contiguous in w and in U).
  U.resize(size_t(aa) * Kw * Cw);
  parallel_for(Kw, grain_rows(int64_t(aa) * Cw * 4), [&](int64_t k0, int64_t k1) {
    std::vector<T> tmp(size_t(a) * 3 * Cw);
    for (int kw = int(k0); kw < int(k1); ++kw) {
      auto in = [&](int r, int s) { return w + ((int64_t(kw) * 3 + (flipped ? 2 - r : r)) * 3 + (flipped ? 2 - s : s)) * Cw; };
      auto out = [&](int i, int j) { return U.data() + (size_t(i * a + j) * Kw + kw) * Cw; };
      transform_2d(W::G, in, out, Cw, tmp.data());
    }
  });

  const int64_t block = tl.block(a, C, K);
  V.resize(size_t(aa) * block * C);
  M.resize(size_t(aa) * block * K);
  for (int64_t t0 = 0; t0 < tl.count; t0 += block) {
    const int nb = int(std::min<int64_t>(block, tl.count - t0));
    transform_input<m>(p, tl, x, t0, nb, V.data());

    // M[xi] (nb, K) = V[xi] (nb, C) * U[xi]^T (forward: U[xi] is (K, C)) or U[xi] (flipped: (C, K))
    GemmParams g;
    g.M = nb; g.N = K; g.K = C;
    g.transB = !flipped;
    g.lda = aa * C; g.ldb = Cw; g.ldc = aa * K;
    gemm_cpu_blas_strided_batch<T>(g, aa, V.data(), C, U.data(), int64_t(C) * K, M.data(), K);

    // y = A^T M A + bias for each tile, written where it falls inside the output.
    parallel_for(nb, grain_rows(int64_t(aa) * K * 4), [&](int64_t b0, int64_t b1) {
      std::vector<T> tmp(static_cast<size_t>(m * a) * K), discard(K);
      for (int64_t bt = b0; bt < b1; ++bt) {
        int n, oh, ow;
        tl.at(t0 + bt, &n, &oh, &ow);
        auto in = [&](int i, int j) { return M.data() + (size_t(bt) * aa + i * a + j) * K; };
        auto out = [&](int u, int v) {
          return oh + u < P && ow + v < Q ? y + ((int64_t(n) * P + oh + u) * Q + ow + v) * K : discard.data();
        };
        transform_2d(W::AT, in, out, K, tmp.data(), bias);
      }
    });
  }
}

// The weight gradient dw (K, 3, 3, C) of a 3x3 stride-1 convolution from x (N, H, W, C) and
// dy (N, P, Q, K): F(3 x 3, m x m), see the top of the file.
template <int m, typename T>
void winograd_weight_grad(const Conv2dParams& p, const T* x, const T* dy, T* dw) {
  using W = Winograd<m>;
  constexpr int a = W::a, aa = a * a;
  const int C = p.C, K = p.K, P = p.P(), Q = p.Q();
  const Tiles tl(m, p.N, P, Q);
  std::vector<T>& dW = scratch<T>(0);  // (aa, K, C), summed over all tiles
  std::vector<T>& V = scratch<T>(1);   // (block, aa, C)
  std::vector<T>& E = scratch<T>(2);   // (block, aa, K)
  if (tl.count == 0) {  // no images: the gradient is zero (and dW would hold the last call's)
    std::fill(dw, dw + int64_t(K) * 9 * C, T(0));
    return;
  }
  const int64_t block = tl.block(a, C, K);
  dW.resize(size_t(aa) * K * C);
  V.resize(size_t(aa) * block * C);
  E.resize(size_t(aa) * block * K);
  const std::vector<T> zeros(K, T(0));
  for (int64_t t0 = 0; t0 < tl.count; t0 += block) {
    const int nb = int(std::min<int64_t>(block, tl.count - t0));
    transform_input<m>(p, tl, x, t0, nb, V.data());
    // E[bt][xi] = A e A^T, e the m x m tile of dy (zero beyond the output's edge).
    parallel_for(nb, grain_rows(int64_t(aa) * K * 4), [&](int64_t b0, int64_t b1) {
      std::vector<T> tmp(size_t(a) * m * K);
      for (int64_t bt = b0; bt < b1; ++bt) {
        int n, oh, ow;
        tl.at(t0 + bt, &n, &oh, &ow);
        auto in = [&](int u, int v) {
          return oh + u < P && ow + v < Q ? dy + ((int64_t(n) * P + oh + u) * Q + ow + v) * K : zeros.data();
        };
        auto out = [&](int i, int j) { return E.data() + (size_t(bt) * aa + i * a + j) * K; };
        transform_2d(W::A, in, out, K, tmp.data());
      }
    });
    // dW[xi] (K, C) (+)= E[xi]^T (K, nb) * V[xi] (nb, C)
    GemmParams g;
    g.transA = true;
    g.M = K; g.N = C; g.K = nb;
    g.lda = aa * K; g.ldb = aa * C; g.ldc = C;
    g.beta = t0 == 0 ? 0.0 : 1.0;
    gemm_cpu_blas_strided_batch<T>(g, aa, E.data(), K, V.data(), C, dW.data(), int64_t(K) * C);
  }
  // dw[k] (3, 3, C) = G^T dW[.][k] G
  parallel_for(K, grain_rows(int64_t(aa) * C * 4), [&](int64_t k0, int64_t k1) {
    std::vector<T> tmp(size_t(3) * a * C);
    for (int k = int(k0); k < int(k1); ++k) {
      auto in = [&](int i, int j) { return dW.data() + (size_t(i * a + j) * K + k) * C; };
      auto out = [&](int r, int s) { return dw + ((int64_t(k) * 3 + r) * 3 + s) * C; };
      transform_2d(W::GT, in, out, C, tmp.data());
    }
  });
}

}  // namespace

template <typename T>
void conv2d_forward_cpu_winograd(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y, int m) {
  if (m == 2) winograd_conv<2>(p, x, w, false, b, y);
  else winograd_conv<4>(p, x, w, false, b, y);
}

template <typename T>
void conv2d_backward_data_cpu_winograd(const Conv2dParams& p, const T* dy, const T* w, T* dx, int m) {
  // The forward convolution that maps dy (N, P, Q, K) to dx (N, H, W, C), with the flipped weights.
  Conv2dParams q = p;
  q.H = p.P(); q.W = p.Q(); q.C = p.K; q.K = p.C; q.pad = 2 - p.pad;
  const T* no_bias = nullptr;
  if (m == 2) winograd_conv<2>(q, dy, w, true, no_bias, dx);
  else winograd_conv<4>(q, dy, w, true, no_bias, dx);
}

template <typename T>
void conv2d_backward_weight_cpu_winograd(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, int m) {
  if (m == 2) winograd_weight_grad<2>(p, x, dy, dw);
  else winograd_weight_grad<4>(p, x, dy, dw);
  if (db) column_sum_cpu(dy, int64_t(p.N) * p.P() * p.Q(), p.K, db);
}

#define SRGAN_INSTANTIATE(T)                                                                                 \
  template void conv2d_forward_cpu_winograd<T>(const Conv2dParams&, const T*, const T*, const T*, T*, int); \
  template void conv2d_backward_data_cpu_winograd<T>(const Conv2dParams&, const T*, const T*, T*, int);     \
  template void conv2d_backward_weight_cpu_winograd<T>(const Conv2dParams&, const T*, const T*, T*, T*, int);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
