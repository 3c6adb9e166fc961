// Definitions shared by every kernel: the host/device qualifier for scalar formulas and the
// stream handle type (declared, not included, so CPU-only code never needs CUDA headers).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define SRGAN_HD __host__ __device__ __forceinline__
#else
#define SRGAN_HD inline
#endif

struct CUstream_st;

namespace srgan::kern {
using Stream = CUstream_st*;  // same type as cudaStream_t; nullptr is the default stream
}  // namespace srgan::kern
