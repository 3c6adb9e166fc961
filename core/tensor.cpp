// Tensor storage, factories, copies, views and the autograd entry points.
#include "core/tensor.h"

#include <cstdint>
#include <cstring>
#include <sstream>

#include "core/autograd.h"
#include "core/check.h"
#include "core/device.h"
#include "core/ops.h"

namespace srgan {

size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 8; }
const char* dtype_name(DType t) { return t == DType::f32 ? "f32" : "f64"; }
const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s)
    if (__builtin_mul_overflow(n, d, &n)) throw Error("shape " + shape_str(s) + " has more than 2^63 elements");
  return n;
}

Storage::Storage(size_t nbytes, Device d) : device(d) { ptr = device_alloc(nbytes, d, &bytes, &pool); }
Storage::~Storage() { device_free(ptr, bytes, device, pool); }

namespace {
const TensorImpl& impl_of(const std::shared_ptr<TensorImpl>& p) {
  if (!p) throw Error("use of an undefined Tensor");
  return *p;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (auto d : shape)
    if (d < 0) throw Error("Tensor::empty: negative dimension in shape " + shape_str(shape));
  if (shape_numel(shape) > INT64_MAX / int64_t(dtype_size(dtype)))  // the byte count must fit
    throw Error("Tensor::empty: shape " + shape_str(shape) + " needs more than 2^63 bytes");
  if (device == Device::cuda && dtype != DType::f32)
    throw Error("Tensor::empty: CUDA tensors are f32 only, asked for " + std::string(dtype_name(dtype)));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->device = device;
  impl->storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(impl);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  device_memset_zero(t.raw(), device, t.nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape, Device device) {
  if (int64_t(v.size()) != shape_numel(shape))
    throw Error("Tensor::from_vector: " + std::to_string(v.size()) + " values for shape " + shape_str(shape));
  Tensor t = empty(shape, DType::f32, device);
  device_copy(t.raw(), device, v.data(), Device::cpu, t.nbytes());
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& shape, Device device) {
  if (int64_t(v.size()) != shape_numel(shape))
    throw Error("Tensor::from_vector: " + std::to_string(v.size()) + " values for shape " + shape_str(shape));
  if (device == Device::cuda) return from_vector(std::vector<float>(v.begin(), v.end()), shape, device);
  Tensor t = empty(shape, DType::f64, device);
  std::memcpy(t.raw(), v.data(), t.nbytes());
  return t;
}

Tensor Tensor::scalar(double v, DType dtype, Device device) { return full({}, v, dtype, device); }

const Shape& Tensor::shape() const { return impl_of(impl_).shape; }
DType Tensor::dtype() const { return impl_of(impl_).dtype; }
Device Tensor::device() const { return impl_of(impl_).device; }

int64_t Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  if (j < 0 || j >= n) throw Error("Tensor::dim: index " + std::to_string(i) + " out of range for shape " + shape_str(shape()));
  return shape()[j];
}

void* Tensor::raw() const {
  const auto& im = impl_of(impl_);
  return static_cast<char*>(im.storage->ptr) + im.offset * int64_t(dtype_size(im.dtype));
}

template <typename T> T* Tensor::data() const {
  constexpr DType want = sizeof(T) == 4 ? DType::f32 : DType::f64;
  if (dtype() != want)
    throw Error(std::string("Tensor::data: tensor is ") + dtype_name(dtype()) + ", asked for " + dtype_name(want));
  return static_cast<T*>(raw());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  if (d == Device::cuda && dtype() != DType::f32) return to(DType::f32).to(d);
  Tensor t = empty(shape(), dtype(), d);
  device_copy(t.raw(), d, raw(), device(), nbytes());
  return t;
}

Tensor Tensor::to(DType want) const {
  if (dtype() == want) return *this;
  if (device() != Device::cpu) throw Error("Tensor::to(dtype): only CPU tensors change dtype");
  Tensor t = empty(shape(), want, Device::cpu);
  const int64_t n = numel();
  if (want == DType::f64) {
    const float* s = data<float>();
    double* o = t.data<double>();
    for (int64_t i = 0; i < n; ++i) o[i] = s[i];
  } else {
    const double* s = data<double>();
    float* o = t.data<float>();
    for (int64_t i = 0; i < n; ++i) o[i] = float(s[i]);
  }
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  device_copy(t.raw(), device(), raw(), device(), nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape() != shape() || src.dtype() != dtype())
    throw Error("Tensor::copy_from: destination " + shape_str(shape()) + " " + dtype_name(dtype()) +
                ", source " + shape_str(src.shape()) + " " + dtype_name(src.dtype()));
  device_copy(raw(), device(), src.raw(), src.device(), nbytes());
}

std::vector<float> Tensor::to_vector() const {
  Tensor h = to(Device::cpu);
  if (h.dtype() == DType::f32) {
    const float* p = h.data<float>();
    return std::vector<float>(p, p + numel());
  }
  const double* p = h.data<double>();
  return std::vector<float>(p, p + numel());
}

std::vector<double> Tensor::to_vector_f64() const {
  Tensor h = to(Device::cpu);
  if (h.dtype() == DType::f64) {
    const double* p = h.data<double>();
    return std::vector<double>(p, p + numel());
  }
  const float* p = h.data<float>();
  return std::vector<double>(p, p + numel());
}

double Tensor::item() const {
  if (numel() != 1) throw Error("Tensor::item: tensor of shape " + shape_str(shape()) + " is not one element");
  return to_vector_f64()[0];
}

Tensor Tensor::view(const Shape& s) const {
  if (shape_numel(s) != numel())
    throw Error("Tensor::view: cannot view shape " + shape_str(shape()) + " as " + shape_str(s));
  auto im = std::make_shared<TensorImpl>(impl_of(impl_));
  im->shape = s;
  im->grad.reset();
  im->grad_fn.reset();
  im->requires_grad = false;
  return Tensor(im);
}

Tensor Tensor::narrow0(int64_t begin, int64_t length) const {
  if (ndim() < 1 || begin < 0 || length < 0 || begin + length > dim(0))
    throw Error("Tensor::narrow0: rows [" + std::to_string(begin) + ", " + std::to_string(begin + length) +
                ") out of range for shape " + shape_str(shape()));
  Tensor v = view(shape());
  v.impl_->shape[0] = length;
  v.impl_->offset += begin * (dim(0) ? numel() / dim(0) : 0);
  return v;
}

void Tensor::rehome(const Tensor& place) {
  TensorImpl& im = *impl_;
  const TensorImpl& to = impl_of(place.impl_);
  if (to.grad_fn || im.grad_fn) throw Error("Tensor::rehome: only leaf tensors (parameters, buffers) move");
  if (place.numel() != numel())
    throw Error("Tensor::rehome: " + shape_str(shape()) + " cannot live in " + shape_str(place.shape()));
  im.storage = to.storage;
  im.offset = to.offset;
  im.device = to.device;
  im.dtype = to.dtype;
}

bool Tensor::requires_grad() const { return impl_of(impl_).requires_grad; }

Tensor& Tensor::set_requires_grad(bool r) {
  impl_of(impl_);
  if (impl_->grad_fn && !r) throw Error("set_requires_grad(false) on a non-leaf tensor: use detach()");
  impl_->requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return impl_of(impl_).grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::zero_grad() {
  if (impl_of(impl_).grad) {
    Tensor g(impl_->grad);
    device_memset_zero(g.raw(), g.device(), g.nbytes());
  }
}

Tensor Tensor::detach() const { return view(shape()); }

void Tensor::backward() const {
  if (numel() != 1)
    throw Error("backward(): output of shape " + shape_str(shape()) + " is not a scalar; pass a gradient");
  run_backward(*this, Tensor::full(shape(), 1.0, dtype(), device()));
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

}  // namespace srgan
