// The autograd engine: graph recording switch, topological sort, reverse walk, accumulation.
#include "core/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "core/check.h"
#include "core/ops.h"

namespace srgan {
namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!g_grad_enabled) return out;
  bool any = false;
  for (auto& t : inputs) any |= t.defined() && t.requires_grad();
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->grad_fn = node;
  out.impl()->requires_grad = true;
  return out;
}

void run_backward(const Tensor& root, const Tensor& grad_root) {
  if (!root.requires_grad()) throw Error("backward(): the tensor does not require grad (no graph was recorded)");
  if (grad_root.shape() != root.shape())
    throw Error("backward(): gradient of shape " + shape_str(grad_root.shape()) + " for output of shape " +
                shape_str(root.shape()));
  NoGradGuard no_grad;  // gradient arithmetic is not recorded

  // Topological order of the non-leaf tensors reachable from root (iterative DFS, post-order).
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<TensorImpl*, size_t>> stack;
  if (root.impl()->grad_fn) {
    stack.push_back({root.impl().get(), 0});
    seen.insert(root.impl().get());
  }
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    auto& ins = t->grad_fn->inputs;
    if (next < ins.size()) {
      TensorImpl* in = ins[next++].impl().get();
      if (in && in->grad_fn && in->requires_grad && !seen.count(in)) {
        seen.insert(in);
        stack.push_back({in, 0});
      }
    } else {
      order.push_back(t);
      stack.pop_back();
    }
  }

  auto accumulate_leaf = [](TensorImpl* leaf, const Tensor& g) {
    if (!leaf->grad) {
      leaf->grad = g.clone().impl();
    } else {
      Tensor acc(leaf->grad);
      add_(acc, g);
    }
  };

  std::unordered_map<TensorImpl*, Tensor> pending;  // gradient w.r.t. each non-leaf tensor
  if (!root.impl()->grad_fn) {  // backward on a leaf: its gradient is the seed
    accumulate_leaf(root.impl().get(), grad_root);
    return;
  }
  pending[root.impl().get()] = grad_root;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    auto found = pending.find(t);
    if (found == pending.end()) continue;  // no gradient reached this tensor
    Tensor g = found->second;
    pending.erase(found);
    Node& node = *t->grad_fn;
    std::vector<Tensor> grads = node.backward(g);
    if (grads.size() != node.inputs.size())
      throw Error("autograd: backward of " + node.op + " returned " + std::to_string(grads.size()) +
                  " gradients for " + std::to_string(node.inputs.size()) + " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Tensor& in = node.inputs[i];
      if (!in.defined() || !in.requires_grad() || !grads[i].defined()) continue;
      if (grads[i].shape() != in.shape())
        throw Error("autograd: backward of " + node.op + " gave gradient " + shape_str(grads[i].shape()) +
                    " for input " + std::to_string(i) + " of shape " + shape_str(in.shape()));
      TensorImpl* ip = in.impl().get();
      if (ip->grad_fn) {
        auto p = pending.find(ip);
        if (p == pending.end()) pending.emplace(ip, grads[i]);
        else p->second = add(p->second, grads[i]);
      } else {
        accumulate_leaf(ip, grads[i]);
      }
    }
  }
}

}  // namespace srgan
