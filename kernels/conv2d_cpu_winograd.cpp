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
// A 3x3 convolution costs 9 multiply-adds per output, input and output channel; F(2x2) needs
// 16/4 = 4 and F(4x4) 36/16 = 2.25 in the GEMMs, plus transforms that cost a few additions per
// element. F(4x4)'s larger coefficients cost some accuracy (tests/test_conv_winograd.cpp states
// the tolerances).
//
// Backward-data of a stride-1 3x3 convolution is itself one: dx = conv(dy, w') with pad' = 2 - pad
// and w'[c][r][s][k] = w[k][2-r][2-s][c], so it runs through the same code with the flipped
// weights read straight from w by the weight transform (`flipped`).
//
// Each transform is two passes of apply_matrix (down the columns of a tile, then along its rows),
// which applies a small constant matrix to channel vectors (contiguous in NHWC), 16 channels at
// a time. The a*a GEMMs of a block are small, so they run one per thread
// (gemm_cpu_blas_strided_batch) rather than each split over the cores.
#include <algorithm>
#include <vector>

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
};

// out[i][0..n) = add[0..n) + sum over u of Mx[i][u] * in[u][0..n): a small constant matrix applied
// to `cols` channel vectors. It works on 16 channels at a time held in local arrays, so each
// input is loaded once and each output stored once. Inlined, the loops over i and u have
// compile-time bounds and constant coefficients: they unroll, and the test for a zero
// coefficient folds away with its term. add may be nullptr.
template <int rows, int cols, typename T>
[[gnu::always_inline]] inline void apply_matrix(const double (&Mx)[rows][cols], const T* const (&in)[cols],
                                                T* const (&out)[rows], int n, const T* add = nullptr) {
  constexpr int L = 16;
  T v[cols][L] = {}, o[rows][L];
  for (int c0 = 0; c0 < n; c0 += L) {
    // A full chunk copies with a constant length (vector moves); only a channel tail is variable.
    const int w = std::min(L, n - c0);
    if (w == L) {
      for (int u = 0; u < cols; ++u)
        for (int c = 0; c < L; ++c) v[u][c] = in[u][c0 + c];
    } else {
      for (int u = 0; u < cols; ++u)
        for (int c = 0; c < w; ++c) v[u][c] = in[u][c0 + c];
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
  const int tiles_h = (P + m - 1) / m, tiles_w = (Q + m - 1) / m;
  const int64_t tiles = int64_t(p.N) * tiles_h * tiles_w;

  // U (aa, Kw, Cw): row kw of U[xi] is G g G^T at xi for the 3x3 kernels g = w[kw][.][.][0..Cw),
  // computed for all Cw channels at once (contiguous in w and in U).
  // U, V and M are the calling thread's scratch, kept between calls: fresh multi-MiB vectors
  // would be fresh pages from the kernel on every call. (Named through local references, which
  // the pool's threads see; a thread_local named inside the lambdas would be their own.)
  static thread_local std::vector<T> U_scratch, V_scratch, M_scratch;
  std::vector<T>& U = U_scratch;
  std::vector<T>& V = V_scratch;
  std::vector<T>& M = M_scratch;
  U.resize(size_t(aa) * Kw * Cw);
  parallel_for(Kw, grain_rows(int64_t(aa) * Cw * 4), [&](int64_t k0, int64_t k1) {
    std::vector<T> Gg(size_t(a) * 3 * Cw);  // (a, 3, Cw): G applied along r
    for (int kw = int(k0); kw < int(k1); ++kw) {
      for (int s = 0; s < 3; ++s) {  // Gg[.][s] = G g[.][s]
        const T* in[3];
        T* out[a];
        for (int r = 0; r < 3; ++r) in[r] = w + ((int64_t(kw) * 3 + (flipped ? 2 - r : r)) * 3 + (flipped ? 2 - s : s)) * Cw;
        for (int i = 0; i < a; ++i) out[i] = Gg.data() + size_t(i * 3 + s) * Cw;
        apply_matrix(W::G, in, out, Cw);
      }
      for (int i = 0; i < a; ++i) {  // U[i][.] = Gg[i][.] G^T
        const T* in[3];
        T* out[a];
        for (int s = 0; s < 3; ++s) in[s] = Gg.data() + size_t(i * 3 + s) * Cw;
        for (int j = 0; j < a; ++j) out[j] = U.data() + (size_t(i * a + j) * Kw + kw) * Cw;
        apply_matrix(W::G, in, out, Cw);
      }
    }
  });

  // Blocks of tiles sized so V and M (aa * block * (C + K) elements) stay near 4 MiB of floats.
  const int64_t block = std::clamp<int64_t>((int64_t(1) << 20) / (int64_t(aa) * (C + K)), 32, tiles);
  V.resize(size_t(aa) * block * C);  // (aa, block, C)
  M.resize(size_t(aa) * block * K);  // (aa, block, K)
  const std::vector<T> zeros(std::max(C, K), T(0));  // stands for pixels outside the image

  for (int64_t t0 = 0; t0 < tiles; t0 += block) {
    const int nb = int(std::min<int64_t>(block, tiles - t0));

    // V[xi][t] = B^T d B for each tile t of the block: B^T down each column of the patch, then
    // B along each row.
    parallel_for(nb, grain_rows(int64_t(aa) * C * 4), [&](int64_t b0, int64_t b1) {
      std::vector<T> tmp(size_t(aa) * C);  // (a, a, C): B^T d
      for (int64_t bt = b0; bt < b1; ++bt) {
        const int64_t t = t0 + bt;
        const int n = int(t / (int64_t(tiles_h) * tiles_w));
        const int th = int(t / tiles_w % tiles_h), tw = int(t % tiles_w);
        for (int v = 0; v < a; ++v) {
          const T* in[a];
          T* out[a];
          for (int u = 0; u < a; ++u) {
            const int ih = th * m - p.pad + u, iw = tw * m - p.pad + v;
            in[u] = (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) ? zeros.data() : x + ((int64_t(n) * p.H + ih) * p.W + iw) * C;
            out[u] = tmp.data() + size_t(u * a + v) * C;
          }
          apply_matrix(W::BT, in, out, C);
        }
        for (int i = 0; i < a; ++i) {
          const T* in[a];
          T* out[a];
          for (int v = 0; v < a; ++v) in[v] = tmp.data() + size_t(i * a + v) * C;
          for (int j = 0; j < a; ++j) out[j] = V.data() + (size_t(i * a + j) * block + bt) * C;
          apply_matrix(W::BT, in, out, C);
        }
      }
    });

    // M[xi] (nb, K) = V[xi] (nb, C) * U[xi]^T or U[xi]
    GemmParams g;  // forward: U[xi] is (K, C), used transposed; flipped: U[xi] is (C, K) as it is
    g.M = nb; g.N = K; g.K = C;
    g.transB = !flipped;
    g.lda = C; g.ldb = Cw; g.ldc = K;
    gemm_cpu_blas_strided_batch<T>(g, aa, V.data(), block * C, U.data(), int64_t(C) * K, M.data(), block * K);

    // y = A^T M A + bias for each tile: A^T down each column, then A along each row, writing only
    // the pixels inside the output (the others go to a scratch row).
    parallel_for(nb, grain_rows(int64_t(aa) * K * 4), [&](int64_t b0, int64_t b1) {
      std::vector<T> tmp(static_cast<size_t>(m * a) * K);  // (m, a, K): A^T M
      std::vector<T> discard(K);
      for (int64_t bt = b0; bt < b1; ++bt) {
        const int64_t t = t0 + bt;
        const int n = int(t / (int64_t(tiles_h) * tiles_w));
        const int th = int(t / tiles_w % tiles_h), tw = int(t % tiles_w);
        for (int j = 0; j < a; ++j) {
          const T* in[a];
          T* out[m];
          for (int i = 0; i < a; ++i) in[i] = M.data() + (size_t(i * a + j) * block + bt) * K;
          for (int u = 0; u < m; ++u) out[u] = tmp.data() + size_t(u * a + j) * K;
          apply_matrix(W::AT, in, out, K);
        }
        for (int u = 0; u < m && th * m + u < P; ++u) {
          const T* in[a];
          T* out[m];
          for (int j = 0; j < a; ++j) in[j] = tmp.data() + size_t(u * a + j) * K;
          for (int v = 0; v < m; ++v)
            out[v] = tw * m + v < Q ? y + ((int64_t(n) * P + th * m + u) * Q + tw * m + v) * K : discard.data();
          apply_matrix(W::AT, in, out, K, bias);
        }
      }
    });
  }
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

#define SRGAN_INSTANTIATE(T)                                                                                 \
  template void conv2d_forward_cpu_winograd<T>(const Conv2dParams&, const T*, const T*, const T*, T*, int); \
  template void conv2d_backward_data_cpu_winograd<T>(const Conv2dParams&, const T*, const T*, T*, int);
SRGAN_INSTANTIATE(float)
SRGAN_INSTANTIATE(double)
#undef SRGAN_INSTANTIATE

}  // namespace srgan::kern
