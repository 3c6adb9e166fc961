// Column sums on the CPU (the bias gradient of convolution and linear layers).
#include <cstddef>
#include <vector>

#include "kernels/column_sum.h"

namespace srgan::kern {

template <typename T> void column_sum_cpu(const T* x, int64_t rows, int cols, T* out) {
  std::vector<double> acc(std::size_t(cols), 0.0);  // (cols)
  for (int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) acc[std::size_t(c)] += double(x[r * cols + c]);
  for (int c = 0; c < cols; ++c) out[c] = T(acc[std::size_t(c)]);
}

template void column_sum_cpu<float>(const float*, int64_t, int, float*);
template void column_sum_cpu<double>(const double*, int64_t, int, double*);

}  // namespace srgan::kern
