// PReLU on the CPU: x viewed as (M, C); slope per channel or shared. Rows are spread over the
// CPU threads (kernels/cpu_parallel.h); the slope gradient sums in fixed blocks.
#include <vector>

#include "kernels/cpu_parallel.h"
#include "kernels/prelu.h"
#include "kernels/scalar_math.h"

namespace srgan::kern {

template <typename T> void prelu_forward_cpu(const PreluParams& p, const T* x, const T* a, T* y) {
  parallel_for(p.M, grain_rows(p.C), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* xr = x + m * p.C;
      T* yr = y + m * p.C;
      if (p.per_channel)
        for (int c = 0; c < p.C; ++c) yr[c] = leaky_f(xr[c], a[c]);
      else
        for (int c = 0; c < p.C; ++c) yr[c] = leaky_f(xr[c], a[0]);
    }
  });
}

template <typename T>
void prelu_backward_cpu(const PreluParams& p, const T* x, const T* a, const T* dy, T* dx, T* da) {
  std::vector<double> acc(p.C);  // (C) slope gradient per channel before folding
  blocked_row_sums(p.M, p.C, [&](int64_t m, double* part) {
    const T* xr = x + m * p.C;
    const T* dyr = dy + m * p.C;
    T* dxr = dx + m * p.C;
    if (p.per_channel)
      for (int c = 0; c < p.C; ++c) dxr[c] = dyr[c] * leaky_df(xr[c], a[c]);
    else
      for (int c = 0; c < p.C; ++c) dxr[c] = dyr[c] * leaky_df(xr[c], a[0]);
    for (int c = 0; c < p.C; ++c) part[c] += double(dyr[c]) * double(leaky_dslope(xr[c]));
  }, acc.data());
  if (p.per_channel) {
    for (int c = 0; c < p.C; ++c) da[c] = T(acc[c]);
  } else {
    double s = 0.0;
    for (int c = 0; c < p.C; ++c) s += acc[c];
    da[0] = T(s);
  }
}

template void prelu_forward_cpu<float>(const PreluParams&, const float*, const float*, float*);
template void prelu_forward_cpu<double>(const PreluParams&, const double*, const double*, double*);
template void prelu_backward_cpu<float>(const PreluParams&, const float*, const float*, const float*, float*, float*);
template void prelu_backward_cpu<double>(const PreluParams&, const double*, const double*, const double*, double*, double*);

}  // namespace srgan::kern
