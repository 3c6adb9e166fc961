// Scalar formulas written once and used by the CPU loops and the CUDA kernels alike:
// activations and their derivatives, and the numerically stable BCE-with-logits term.
#pragma once
#include <cmath>

#include "kernels/common.h"

namespace srgan::kern {

template <typename T> SRGAN_HD T relu_f(T x) { return x > T(0) ? x : T(0); }
template <typename T> SRGAN_HD T relu_df(T x) { return x > T(0) ? T(1) : T(0); }

// PReLU and leaky ReLU share one formula: x for x > 0, slope * x otherwise.
template <typename T> SRGAN_HD T leaky_f(T x, T slope) { return x > T(0) ? x : slope * x; }
template <typename T> SRGAN_HD T leaky_df(T x, T slope) { return x > T(0) ? T(1) : slope; }
// d(leaky)/d(slope): x where x <= 0, else 0.
template <typename T> SRGAN_HD T leaky_dslope(T x) { return x > T(0) ? T(0) : x; }

template <typename T> SRGAN_HD T sigmoid_f(T x) {
  using std::exp;
  // Split on the sign so exp never overflows.
  if (x >= T(0)) {
    T e = exp(-x);
    return T(1) / (T(1) + e);
  }
  T e = exp(x);
  return e / (T(1) + e);
}

// BCE with logits for one element: max(x,0) - x*t + log(1 + exp(-|x|)), PyTorch's stable form.
template <typename T> SRGAN_HD T bce_logits_f(T x, T t) {
  using std::exp;
  using std::log1p;
  T ax = x >= T(0) ? x : -x;
  return (x > T(0) ? x : T(0)) - x * t + log1p(exp(-ax));
}
// d/dx of the term above: sigmoid(x) - t.
template <typename T> SRGAN_HD T bce_logits_df(T x, T t) { return sigmoid_f(x) - t; }

}  // namespace srgan::kern
