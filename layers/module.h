// Module: the base of every layer and model. A module owns named parameters and buffers and
// named child modules; names compose PyTorch-style ("body.3.conv1.weight"). Parameters are
// Tensor handles, so re-homing them (ParamArena, to()) updates every holder at once.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace srgan {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string type_name() const = 0;
  // Calls forward(); when a summary is being recorded, leaf modules log their row.
  Tensor operator()(const Tensor& x);

  NamedTensors named_parameters() const;  // recursive, registration order
  NamedTensors named_buffers() const;     // recursive (running statistics)
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Whether a forward may run its layers fused for inference (layers/fused_eval.h): eval mode,
  // autograd off, backend().fuse_inference on, and no summary being recorded (which lists the
  // layers one by one).
  bool fuse_for_inference() const;
  void to(Device d);  // moves parameters and buffers in place (same Tensor identities)

  // Forward FLOPs (multiply-adds count 2) for an input of shape `in` producing `out`; leaf
  // layers override, containers sum their children through the summary recorder.
  virtual double flops(const Shape& in, const Shape& out) const { (void)in; (void)out; return 0.0; }

  // A table of leaf layers: name, type, output shape, parameters, forward FLOPs, for an input
  // of shape `input` (runs one forward without gradients on zeros).
  std::string summary(const Shape& input);

 protected:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <typename M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  bool training_ = true;

 private:
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  friend class Sequential;
  friend struct SummaryNames;
};

// Puts a module in eval mode for a scope and restores its previous mode, also on exceptions.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalModeGuard() { m_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  Module& m_;
  bool was_training_;
};

}  // namespace srgan
