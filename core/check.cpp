// Argument checks with messages that name the op, the argument and the shapes involved.
#include "core/check.h"

namespace srgan {

void fail(const std::string& op, const std::string& message) { throw Error(op + ": " + message); }

void check_defined(const char* op, const Tensor& t, const char* name) {
  if (!t.defined()) fail(op, std::string(name) + " is undefined");
}

void check_ndim(const char* op, const Tensor& t, int ndim, const char* name, const char* layout) {
  check_defined(op, t, name);
  if (t.ndim() != ndim)
    fail(op, std::string(name) + " must have " + std::to_string(ndim) + " dimensions " + layout + ", got shape " +
                 shape_str(t.shape()));
}

void check_shape(const char* op, const Tensor& t, const Shape& expected, const char* name) {
  check_defined(op, t, name);
  if (t.shape() != expected)
    fail(op, std::string(name) + " has shape " + shape_str(t.shape()) + ", expected " + shape_str(expected));
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b, const char* na, const char* nb) {
  check_defined(op, a, na);
  check_defined(op, b, nb);
  if (a.shape() != b.shape())
    fail(op, "shape mismatch: " + std::string(na) + " " + shape_str(a.shape()) + " vs " + nb + " " +
                 shape_str(b.shape()));
}

void check_compatible(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  const Tensor* first = nullptr;
  const char* first_name = nullptr;
  for (auto& [name, t] : ts) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      first_name = name;
      continue;
    }
    if (t->device() != first->device())
      fail(op, std::string("device mismatch: ") + first_name + " " + shape_str(first->shape()) + " on " +
                   device_name(first->device()) + ", " + name + " " + shape_str(t->shape()) + " on " +
                   device_name(t->device()));
    if (t->dtype() != first->dtype())
      fail(op, std::string("dtype mismatch: ") + first_name + " " + shape_str(first->shape()) + " is " +
                   dtype_name(first->dtype()) + ", " + name + " " + shape_str(t->shape()) + " is " +
                   dtype_name(t->dtype()));
  }
}

}  // namespace srgan
