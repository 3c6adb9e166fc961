// Arithmetic ops: add, mul, scale, sum, mean, reshape, channel_affine, and the in-place helpers.
#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace srgan {
using namespace kern;

void add_(Tensor& y, const Tensor& x) { axpy_(y, 1.0, x); }

void axpy_(Tensor& y, double alpha, const Tensor& x) {
  const char* op = "axpy_";
  check_same_shape(op, y, x, "destination", "source");
  check_compatible(op, {{"destination", &y}, {"source", &x}});
  if (y.is_cuda()) {
    SRGAN_CUDA_ONLY(op, axpy_cuda(y.numel(), float(alpha), fptr(x), fptr(y), current_stream()));
    return;
  }
  dispatch_cpu(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    axpy_cpu<T>(y.numel(), alpha, x.data<T>(), y.data<T>());
  });
}

void scale_(Tensor& y, double s) {
  check_defined("scale_", y, "destination");
  if (y.is_cuda()) {
    SRGAN_CUDA_ONLY("scale_", scale_cuda(y.numel(), fptr(y), float(s), fptr(y), current_stream()));
    return;
  }
  dispatch_cpu(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    scale_cpu<T>(y.numel(), y.data<T>(), s, y.data<T>());
  });
}

void fill_(Tensor& y, double v) {
  check_defined("fill_", y, "destination");
  if (y.is_cuda()) {
    SRGAN_CUDA_ONLY("fill_", fill_cuda(y.numel(), float(v), fptr(y), current_stream()));
    return;
  }
  dispatch_cpu(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    fill_cpu<T>(y.numel(), v, y.data<T>());
  });
}

namespace {
// y = a (op) b for same-shape tensors.
enum class Binary { add, mul };
Tensor binary(const char* op, Binary kind, const Tensor& a, const Tensor& b) {
  check_same_shape(op, a, b, "a", "b");
  check_compatible(op, {{"a", &a}, {"b", &b}});
  Tensor y = empty_like(a);
  if (a.is_cuda()) {
    SRGAN_CUDA_ONLY(op, kind == Binary::add ? add_cuda(a.numel(), fptr(a), fptr(b), fptr(y), current_stream())
                                            : mul_cuda(a.numel(), fptr(a), fptr(b), fptr(y), current_stream()));
  } else {
    dispatch_cpu(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (kind == Binary::add) add_cpu<T>(a.numel(), a.data<T>(), b.data<T>(), y.data<T>());
      else mul_cpu<T>(a.numel(), a.data<T>(), b.data<T>(), y.data<T>());
    });
  }
  return y;
}

// grad broadcast from a scalar: dx[i] = s * g for every element of a tensor shaped like x.
Tensor broadcast_scalar(const Tensor& g, const Tensor& like, double s) {
  Tensor dx = empty_like(like);
  if (dx.is_cuda()) {
    SRGAN_CUDA_ONLY("sum.backward", broadcast_scalar_cuda(dx.numel(), fptr(g), float(s), fptr(dx), current_stream()));
  } else {
    fill_(dx, s * g.item());
  }
  return dx;
}

Tensor reduce_sum(const char* op, const Tensor& x, double factor) {
  check_defined(op, x, "input");
  Tensor y = Tensor::empty({}, x.dtype(), x.device());
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY(op, sum_cuda(x.numel(), fptr(x), fptr(y), current_stream()));
    if (factor != 1.0) SRGAN_CUDA_ONLY(op, scale_cuda(1, fptr(y), float(factor), fptr(y), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      *y.data<T>() = T(factor * sum_cpu<T>(x.numel(), x.data<T>()));
    });
  }
  return record(y, op, {x}, [x, factor](const Tensor& g) -> std::vector<Tensor> {
    return {broadcast_scalar(g, x, factor)};
  });
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary("add", Binary::add, a, b);
  return record(y, "add", {a, b}, [](const Tensor& g) -> std::vector<Tensor> { return {g, g}; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary("mul", Binary::mul, a, b);
  return record(y, "mul", {a, b}, [a, b](const Tensor& g) -> std::vector<Tensor> {
    return {a.requires_grad() ? binary("mul.backward", Binary::mul, g, b) : Tensor(),
            b.requires_grad() ? binary("mul.backward", Binary::mul, g, a) : Tensor()};
  });
}

Tensor scale(const Tensor& x, double s) {
  check_defined("scale", x, "input");
  Tensor y = empty_like(x);
  if (x.is_cuda()) {
    SRGAN_CUDA_ONLY("scale", scale_cuda(x.numel(), fptr(x), float(s), fptr(y), current_stream()));
  } else {
    dispatch_cpu(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      scale_cpu<T>(x.numel(), x.data<T>(), s, y.data<T>());
    });
  }
  return record(y, "scale", {x}, [s](const Tensor& g) -> std::vector<Tensor> { return {scale(g, s)}; });
}

Tensor sum(const Tensor& x) { return reduce_sum("sum", x, 1.0); }

Tensor mean(const Tensor& x) {
  check_defined("mean", x, "input");
  if (x.numel() == 0) fail("mean", "input of shape " + shape_str(x.shape()) + " has no elements");
  return reduce_sum("mean", x, 1.0 / double(x.numel()));
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", x, "input");
  if (shape_numel(shape) != x.numel())
    fail("reshape", "cannot reshape " + shape_str(x.shape()) + " to " + shape_str(shape));
  Tensor y = x.view(shape);
  Shape in_shape = x.shape();
  return record(y, "reshape", {x}, [in_shape](const Tensor& g) -> std::vector<Tensor> { return {g.view(in_shape)}; });
}

Tensor channel_affine(const Tensor& x, const Tensor& sc, const Tensor& sh) {
  const char* op = "channel_affine";
  check_defined(op, x, "input");
  if (x.ndim() < 1) fail(op, "input must have a channel dimension, got shape " + shape_str(x.shape()));
  const int C = int(x.dim(-1));
  check_shape(op, sc, {C}, "scale");
  check_shape(op, sh, {C}, "shift");
  check_compatible(op, {{"input", &x}, {"scale", &sc}, {"shift", &sh}});
  const int64_t M = C ? x.numel() / C : 0;
  auto apply = [op, M, C](const Tensor& in, const Tensor& a, const Tensor& b) {
    Tensor y = empty_like(in);
    if (in.is_cuda()) {
      SRGAN_CUDA_ONLY(op, channel_affine_cuda(M, C, fptr(in), fptr(a), fptr(b), fptr(y), current_stream()));
    } else {
      dispatch_cpu(in.dtype(), [&](auto tag) {
        using T = decltype(tag);
        channel_affine_cpu<T>(M, C, in.data<T>(), a.data<T>(), b.data<T>(), y.data<T>());
      });
    }
    return y;
  };
  Tensor y = apply(x, sc, sh);
  return record(y, op, {x}, [apply, sc](const Tensor& g) -> std::vector<Tensor> {
    Tensor zero = Tensor::zeros(sc.shape(), sc.dtype(), sc.device());
    return {apply(g, sc, zero)};  // dx = g * scale
  });
}

}  // namespace srgan
