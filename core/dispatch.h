// Helpers for ops: run a CPU body once per dtype (float or double) and guard CUDA-only code.
#pragma once
#include <string>

#include "core/check.h"
#include "core/device.h"  // current_stream(), which every CUDA op is issued on
#include "core/tensor.h"

namespace srgan {

// Calls f(T{}) with T = float or double according to dtype.
template <typename F> void dispatch_cpu(DType t, F&& f) {
  if (t == DType::f32) f(float{});
  else f(double{});
}

inline Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }

template <typename T> T* ptr(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
inline float* fptr(const Tensor& t) { return ptr<float>(t); }

[[noreturn]] inline void throw_no_cuda(const char* op) {
  fail(op, "a CUDA tensor reached an op in a build without CUDA");
}

}  // namespace srgan

#ifdef SRGAN_WITH_CUDA
#define SRGAN_CUDA_ONLY(op, ...) __VA_ARGS__
#else
#define SRGAN_CUDA_ONLY(op, ...) ::srgan::throw_no_cuda(op)
#endif
