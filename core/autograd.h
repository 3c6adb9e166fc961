// Reverse-mode autograd, kept small: a Node holds the inputs of the op that made a tensor and a
// backward function mapping the output's gradient to one gradient per input (undefined where an
// input needs none). backward() sorts the graph topologically and walks it in reverse;
// gradients of leaves accumulate into their .grad (in place, so arena views stay views).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace srgan {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string op;               // for error messages and graph dumps
  std::vector<Tensor> inputs;   // keeps the graph alive; gradients are returned in this order
  BackwardFn backward;
};

bool grad_enabled();

// Turns off graph recording in its scope (evaluation, optimizer updates, validation).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Attaches a node to `out` when recording is on and any input requires grad; returns `out`.
Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward);

// Runs backward from `root`, seeded with `grad_root` (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad_root);

}  // namespace srgan
