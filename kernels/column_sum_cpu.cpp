// Column sums on the CPU (the bias gradient of convolution and linear layers), in fixed blocks of
// rows (kernels/cpu_parallel.h).
#include <cstddef>
#include <vector>

#include "kernels/column_sum.h"
#include "kernels/cpu_parallel.h"

namespace srgan::kern {

template <typename T> void column_sum_cpu(const T* x, int64_t rows, int cols, T* out) {
  std::vector<double> acc(std::size_t(cols), 0.0);  // (cols)
  blocked_row_sums(rows, cols, [&](int64_t r, double* part) {
    for (int c = 0; c < cols; ++c) part[c] += double(x[r * cols + c]);
  }, acc.data());
  for (int c = 0; c < cols; ++c) out[c] = T(acc[std::size_t(c)]);
}

template void column_sum_cpu<float>(const float*, int64_t, int, float*);
template void column_sum_cpu<double>(const double*, int64_t, int, double*);

}  // namespace srgan::kern
