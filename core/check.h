// Argument checks shared by the ops: every failure throws srgan::Error naming the op and the
// offending shapes, dtypes or devices.
#pragma once
#include <stdexcept>
#include <string>

#include "core/tensor.h"

namespace srgan {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& op, const std::string& message);

void check_defined(const char* op, const Tensor& t, const char* name);
void check_ndim(const char* op, const Tensor& t, int ndim, const char* name, const char* layout);
void check_shape(const char* op, const Tensor& t, const Shape& expected, const char* name);
void check_same_shape(const char* op, const Tensor& a, const Tensor& b, const char* na, const char* nb);
// Same device and dtype for every defined tensor; CUDA tensors must be f32.
void check_compatible(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> ts);

}  // namespace srgan
