// PReLU on the CPU: x viewed as (M, C); slope per channel or shared.
#include <vector>

#include "kernels/prelu.h"
#include "kernels/scalar_math.h"

namespace srgan::kern {

template <typename T> void prelu_forward_cpu(const PreluParams& p, const T* x, const T* a, T* y) {
  for (int64_t m = 0; m < p.M; ++m)
    for (int c = 0; c < p.C; ++c) {
      int64_t i = m * p.C + c;
      y[i] = leaky_f(x[i], a[p.per_channel ? c : 0]);
    }
}

template <typename T>
void prelu_backward_cpu(const PreluParams& p, const T* x, const T* a, const T* dy, T* dx, T* da) {
  std::vector<double> acc(p.C, 0.0);  // (C) slope gradient per channel before folding
  for (int64_t m = 0; m < p.M; ++m)
    for (int c = 0; c < p.C; ++c) {
      int64_t i = m * p.C + c;
      dx[i] = dy[i] * leaky_df(x[i], a[p.per_channel ? c : 0]);
      acc[c] += double(dy[i]) * double(leaky_dslope(x[i]));
    }
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
