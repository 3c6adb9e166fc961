// The layers SRGAN is built from, each a Module with PyTorch's parameter names and default
// initialisation: Conv2d, BatchNorm2d, PReLU, PixelShuffle, LeakyReLU, ReLU, MaxPool2x2,
// Linear, Flatten, Sequential. Activations are NHWC; conv weights KRSC.
#pragma once
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/module.h"

namespace srgan {

// weight (K, R, S, C) and bias (K), both U(-1/sqrt(C*R*S), +1/sqrt(C*R*S)) as PyTorch's default.
class Conv2d : public Module {
 public:
  Conv2d(int in, int out, int kernel, int stride, int pad, Rng& rng, bool bias = true);
  std::string type_name() const override { return "Conv2d"; }
  double flops(const Shape& in, const Shape& out) const override;
  Tensor weight, bias;
  int in_channels, out_channels, kernel, stride, pad;

 protected:
  Tensor forward(const Tensor& x) override;
};

// weight = 1, bias = 0 (C); buffers running_mean = 0, running_var = 1 (C).
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int channels, double eps = 1e-5, double momentum = 0.1);
  std::string type_name() const override { return "BatchNorm2d"; }
  double flops(const Shape& in, const Shape& out) const override;
  Tensor weight, bias, running_mean, running_var;
  double eps, momentum;

 protected:
  Tensor forward(const Tensor& x) override;
};

// weight (num_parameters) initialised to 0.25.
class PReLU : public Module {
 public:
  explicit PReLU(int num_parameters = 1, double init = 0.25);
  std::string type_name() const override { return "PReLU"; }
  Tensor weight;

 protected:
  Tensor forward(const Tensor& x) override;
};

class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(int r) : r(r) {}
  std::string type_name() const override { return "PixelShuffle"; }
  int r;

 protected:
  Tensor forward(const Tensor& x) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double slope = 0.01) : slope(slope) {}
  std::string type_name() const override { return "LeakyReLU"; }
  double slope;

 protected:
  Tensor forward(const Tensor& x) override;
};

class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }

 protected:
  Tensor forward(const Tensor& x) override;
};

class MaxPool2x2 : public Module {
 public:
  std::string type_name() const override { return "MaxPool2x2"; }

 protected:
  Tensor forward(const Tensor& x) override;
};

// (N, ...) -> (N, prod(...)); NHWC order, so a PyTorch (NCHW-flattened) Linear after it needs
// its input columns permuted when converting weights.
class Flatten : public Module {
 public:
  std::string type_name() const override { return "Flatten"; }

 protected:
  Tensor forward(const Tensor& x) override;
};

// weight (Out, In), bias (Out), both U(-1/sqrt(In), +1/sqrt(In)).
class Linear : public Module {
 public:
  Linear(int in, int out, Rng& rng, bool bias = true);
  std::string type_name() const override { return "Linear"; }
  double flops(const Shape& in, const Shape& out) const override;
  Tensor weight, bias;

 protected:
  Tensor forward(const Tensor& x) override;
};

// Children named "0", "1", ... in order.
class Sequential : public Module {
 public:
  Sequential() = default;
  std::string type_name() const override { return "Sequential"; }
  template <typename M> std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return register_module(std::to_string(size_++), m);
  }
  int size() const { return size_; }

 protected:
  Tensor forward(const Tensor& x) override;

 private:
  int size_ = 0;
};

}  // namespace srgan
