// Module bookkeeping: recursive parameter/buffer listing, train/eval, device moves, summary.
#include "layers/module.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/check.h"

namespace srgan {

namespace {
struct SummaryRow {
  std::string name, type;
  Shape out;
  int64_t params = 0;
  double flops = 0.0;
};
struct SummaryRecorder {
  std::map<const Module*, std::string> names;
  std::vector<SummaryRow> rows;
};
thread_local SummaryRecorder* g_recorder = nullptr;
}  // namespace

struct SummaryNames {
  static void walk(const Module& m, const std::string& prefix, std::map<const Module*, std::string>& out) {
    out[&m] = prefix;
    for (auto& [n, c] : m.children_) walk(*c, prefix.empty() ? n : prefix + "." + n, out);
  }
  static bool is_leaf(const Module& m) { return m.children_.empty(); }
};

bool Module::fuse_for_inference() const {
  return !training_ && !grad_enabled() && backend().fuse_inference && !g_recorder;
}

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (g_recorder && SummaryNames::is_leaf(*this)) {
    SummaryRow r;
    auto it = g_recorder->names.find(this);
    r.name = it == g_recorder->names.end() ? "?" : it->second;
    r.type = type_name();
    r.out = y.shape();
    r.params = parameter_count();
    r.flops = flops(x.shape(), y.shape());
    g_recorder->rows.push_back(r);
  }
  return y;
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return buffers_.back().second;
}

void Module::collect(const std::string& prefix, bool params, NamedTensors& out) const {
  for (auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  for (auto& [n, c] : children_) c->collect(prefix + n + ".", params, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device d) {
  auto move = [d](Tensor t) {
    if (t.device() == d) return;
    t.rehome(t.to(d));
    if (Tensor g = t.grad(); g.defined()) g.rehome(g.to(d));  // g shares t's gradient
  };
  for (auto& [n, t] : named_parameters()) move(t);
  for (auto& [n, t] : named_buffers()) move(t);
}

static std::string human(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string Module::summary(const Shape& input) {
  SummaryRecorder rec;
  SummaryNames::walk(*this, "", rec.names);
  Device dev = Device::cpu;
  auto ps = named_parameters();
  if (!ps.empty()) dev = ps[0].second.device();
  {
    EvalModeGuard eval(*this);  // running statistics must not move because of a summary
    NoGradGuard ng;
    g_recorder = &rec;
    try {
      (*this)(Tensor::zeros(input, DType::f32, dev));
    } catch (...) {
      g_recorder = nullptr;
      throw;
    }
    g_recorder = nullptr;
  }
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %-12s %-22s %10s %10s\n", "layer", "type", "output (N,H,W,C)", "params", "FLOPs");
  os << type_name() << " for input " << shape_str(input) << "\n" << line;
  int64_t tp = 0;
  double tf = 0;
  for (auto& r : rec.rows) {
    std::snprintf(line, sizeof line, "%-28s %-12s %-22s %10s %10s\n", r.name.c_str(), r.type.c_str(),
                  shape_str(r.out).c_str(), human(double(r.params)).c_str(), human(r.flops).c_str());
    os << line;
    tp += r.params;
    tf += r.flops;
  }
  std::snprintf(line, sizeof line, "total: %lld parameters (%s), %s FLOPs per forward\n", (long long)parameter_count(),
                human(double(tp)).c_str(), human(tf).c_str());
  os << line;
  return os.str();
}

}  // namespace srgan
