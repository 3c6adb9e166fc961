// 2x2 stride-2 max pooling on the CPU (NHWC); backward recomputes the arg-max from x.
#include <algorithm>

#include "kernels/cpu_parallel.h"
#include "kernels/maxpool.h"

namespace srgan::kern {
namespace {
// Index (0..3, row-major in the window) of the first maximum.
template <typename T> int argmax4(const T v[4]) {
  int best = 0;
  for (int i = 1; i < 4; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}
}  // namespace

template <typename T> void maxpool2x2_forward_cpu(const MaxPoolParams& p, const T* x, T* y) {
  const int P = p.P(), Q = p.Q();
  parallel_for(int64_t(p.N) * P, grain_rows(int64_t(Q) * p.C), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {  // t = n * P + oh: one output row
      const int n = int(t / P), oh = int(t % P);
      for (int ow = 0; ow < Q; ++ow)
        for (int c = 0; c < p.C; ++c) {
          T v[4];
          for (int i = 0; i < 4; ++i)
            v[i] = x[((int64_t(n) * p.H + 2 * oh + i / 2) * p.W + 2 * ow + i % 2) * p.C + c];
          y[((int64_t(n) * P + oh) * Q + ow) * p.C + c] = v[argmax4(v)];
        }
    }
  });
}

template <typename T> void maxpool2x2_backward_cpu(const MaxPoolParams& p, const T* x, const T* dy, T* dx) {
  const int P = p.P(), Q = p.Q();
  const int64_t total = int64_t(p.N) * p.H * p.W * p.C;
  parallel_for(total, kGrainElems, [&](int64_t i0, int64_t i1) { std::fill(dx + i0, dx + i1, T(0)); });
  // Output row oh only writes input rows 2*oh and 2*oh+1, so rows can go to different threads.
  parallel_for(int64_t(p.N) * P, grain_rows(int64_t(Q) * p.C), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int n = int(t / P), oh = int(t % P);
      for (int ow = 0; ow < Q; ++ow)
        for (int c = 0; c < p.C; ++c) {
          T v[4];
          int64_t idx[4];
          for (int i = 0; i < 4; ++i) {
            idx[i] = ((int64_t(n) * p.H + 2 * oh + i / 2) * p.W + 2 * ow + i % 2) * p.C + c;
            v[i] = x[idx[i]];
          }
          dx[idx[argmax4(v)]] += dy[((int64_t(n) * P + oh) * Q + ow) * p.C + c];
        }
    }
  });
}

template void maxpool2x2_forward_cpu<float>(const MaxPoolParams&, const float*, float*);
template void maxpool2x2_forward_cpu<double>(const MaxPoolParams&, const double*, double*);
template void maxpool2x2_backward_cpu<float>(const MaxPoolParams&, const float*, const float*, float*);
template void maxpool2x2_backward_cpu<double>(const MaxPoolParams&, const double*, const double*, double*);

}  // namespace srgan::kern
