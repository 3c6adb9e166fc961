// Tensor: an n-dimensional fp32 (or fp64, for gradient checks) array on the CPU or a CUDA device.
// Layout, decided once for the whole engine: contiguous row-major; activations are NHWC
// (channels innermost) and convolution weights KRSC (out-channels, kernel rows, kernel cols,
// in-channels). A Tensor is a shared handle: copies share storage; reshape/narrow are views.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace srgan {

enum class DType { f32, f64 };
enum class Device { cpu, cuda };
using Shape = std::vector<int64_t>;

size_t dtype_size(DType t);
const char* dtype_name(DType t);
const char* device_name(Device d);
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

struct CapturePool;  // core/device.h

// One allocation, returned to its allocator when the last Tensor using it goes away.
struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  Device device = Device::cpu;
  std::shared_ptr<CapturePool> pool;  // the CUDA-graph pool the block came from, if any
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Node;
struct TensorImpl {
  Shape shape;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;            // in elements, for views into a larger storage (the arena)
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf (or undefined)
  std::shared_ptr<Node> grad_fn;     // the node that produced this tensor (null for leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (contents of empty() are unspecified) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor from_vector(const std::vector<float>& v, const Shape& shape, Device device = Device::cpu);
  static Tensor from_vector(const std::vector<double>& v, const Shape& shape, Device device = Device::cpu);
  static Tensor scalar(double v, DType dtype = DType::f32, Device device = Device::cpu);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int ndim() const { return int(shape().size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  DType dtype() const;
  Device device() const;
  bool is_cuda() const { return device() == Device::cuda; }

  // Raw pointer to the first element (host or device memory according to device()).
  void* raw() const;
  template <typename T> T* data() const;  // checks that T matches dtype()

  // ---- copies ----
  Tensor to(Device d) const;          // same object when already there
  Tensor to(DType t) const;           // CPU conversion (f32 <-> f64)
  Tensor clone() const;               // deep copy, same device and dtype, no autograd history
  void copy_from(const Tensor& src);  // same shape and dtype, any devices
  std::vector<float> to_vector() const;         // host copy as float
  std::vector<double> to_vector_f64() const;    // host copy as double
  double item() const;                          // the single element, as double

  // ---- views (share storage) ----
  Tensor view(const Shape& shape) const;  // no autograd; see reshape() in ops.h for the differentiable one
  Tensor narrow0(int64_t begin, int64_t length) const;  // rows [begin, begin+length) of dim 0
  // Makes this tensor, and every handle sharing it (a module's parameter, an optimizer's list),
  // use `place`'s memory from now on: its storage, offset, device and dtype (the same number of
  // elements; the shape stays). The contents are not copied. Moving parameters to a device
  // (Module::to) and into one contiguous arena (ParamArena) both go through here.
  void rehome(const Tensor& place);

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r);
  Tensor grad() const;        // undefined if none accumulated yet
  void zero_grad();           // fills an existing grad with zeros
  Tensor detach() const;      // same storage, cut from the graph
  void backward() const;      // this must hold one element; seeds with 1
  void backward(const Tensor& grad_output) const;

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace srgan
