// A small fork-join pool for the CPU kernels' loops. OpenBLAS already spreads each GEMM over all
// cores; everything between the GEMMs (im2col, PReLU, batch norm, pixel shuffle, additions) would
// otherwise run on one core while the others wait, which was half the wall time of CPU inference.
//
//   parallel_for(n, grain, [&](int64_t begin, int64_t end) { for (i = begin; i < end; ++i) ... });
//
// splits [0, n) into one contiguous chunk per thread (the calling thread takes the first) and
// returns when all chunks are done. It runs inline when n < 2 * grain, when called from inside
// another parallel_for, or when another thread is using the pool. Chunk bounds depend on the
// thread count, so a loop that reduces (sums) must not sum across its chunks: use fixed blocks
// (parallel_blocks) and combine the blocks in order, which keeps results independent of threads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace srgan::kern {

void cpu_set_threads(int n);  // n <= 0: all hardware threads
int cpu_threads();

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

// Calls f(block, begin, end) for each of the fixed blocks [b*block_size, min(n, (b+1)*block_size)),
// spread over the threads. The number of blocks is ceil(n / block_size).
inline int64_t block_count(int64_t n, int64_t block_size) { return n <= 0 ? 0 : (n + block_size - 1) / block_size; }
void parallel_blocks(int64_t n, int64_t block_size, const std::function<void(int64_t, int64_t, int64_t)>& f);

// out[0..width) = sums over rows m in [0, M) of what row(m, acc) adds into acc[0..width), taken
// in fixed blocks of kSumBlockRows rows and combined in block order: the same bits whatever the
// number of threads.
constexpr int64_t kSumBlockRows = 256;
template <typename RowFn> void blocked_row_sums(int64_t M, int width, RowFn&& row, double* out) {
  const int64_t blocks = block_count(M, kSumBlockRows);
  std::vector<double> partial(size_t(blocks) * size_t(width), 0.0);  // (blocks, width)
  parallel_blocks(M, kSumBlockRows, [&](int64_t b, int64_t m0, int64_t m1) {
    double* acc = partial.data() + b * width;
    for (int64_t m = m0; m < m1; ++m) row(m, acc);
  });
  std::fill(out, out + width, 0.0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int j = 0; j < width; ++j) out[j] += partial[size_t(b) * width + j];
}

// Rows per chunk so that a chunk holds at least ~kGrainElems elements of `row_elems` each.
constexpr int64_t kGrainElems = int64_t(1) << 15;
inline int64_t grain_rows(int64_t row_elems) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(row_elems, 1)); }

}  // namespace srgan::kern
