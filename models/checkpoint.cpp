// Checkpoint save/load by name with one complete error report, and architecture metadata.
#include "models/checkpoint.h"

#include <map>
#include <sstream>

#include "core/check.h"

namespace srgan {

TensorList module_state(const Module& m, const std::string& prefix) {
  TensorList out;
  for (auto& [n, t] : m.named_parameters()) out.emplace_back(prefix + n, t);
  for (auto& [n, t] : m.named_buffers()) out.emplace_back(prefix + n, t);
  return out;
}

void save_tensors(const std::string& path, const TensorList& tensors, const Metadata& metadata) {
  save_safetensors(path, tensors, metadata);
}

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}
}  // namespace

LoadReport load_tensors(const std::string& path, const TensorList& targets, bool strict) {
  SafeTensors file = load_safetensors(path);
  LoadReport rep;
  rep.metadata = file.metadata;
  std::map<std::string, const Tensor*> in_file;
  for (auto& [n, t] : file.tensors) in_file[n] = &t;
  std::map<std::string, bool> wanted;
  std::vector<std::string> misshaped;
  struct Copy {
    std::string name;
    Tensor dst;
    const Tensor* src;
  };
  std::vector<Copy> copies;
  for (auto& [n, t] : targets) {
    wanted[n] = true;
    auto it = in_file.find(n);
    if (it == in_file.end()) {
      rep.missing.push_back(n);
      continue;
    }
    if (it->second->shape() != t.shape()) {
      misshaped.push_back(n + " (file " + shape_str(it->second->shape()) + ", model " + shape_str(t.shape()) + ")");
      continue;
    }
    copies.push_back({n, t, it->second});
  }
  for (auto& [n, t] : file.tensors)
    if (!wanted.count(n)) rep.unexpected.push_back(n);

  const bool bad = !misshaped.empty() || (strict && (!rep.missing.empty() || !rep.unexpected.empty()));
  if (bad) {
    std::ostringstream os;
    os << "checkpoint '" << path << "' does not match:";
    if (!rep.missing.empty()) os << "\n  missing " << rep.missing.size() << ": " << join(rep.missing);
    if (!rep.unexpected.empty()) os << "\n  unexpected " << rep.unexpected.size() << ": " << join(rep.unexpected);
    if (!misshaped.empty()) os << "\n  wrong shape " << misshaped.size() << ": " << join(misshaped);
    if (!strict) os << "\n  (non-strict load: only the shape mismatches are errors)";
    throw Error(os.str());
  }
  for (auto& c : copies) {
    Tensor d = c.dst;
    d.copy_from(c.src->dtype() == d.dtype() ? *c.src : c.src->to(d.dtype()));
    rep.loaded.push_back(c.name);
  }
  return rep;
}

void save_module(const std::string& path, const Module& m, const Metadata& metadata) {
  save_tensors(path, module_state(m), metadata);
}

LoadReport load_module(const std::string& path, Module& m, bool strict) {
  return load_tensors(path, module_state(m), strict);
}

// ---- architecture metadata ----

Metadata srresnet_metadata(const SRResNetConfig& c) {
  return {{"arch", "srresnet"}, {"blocks", std::to_string(c.blocks)}, {"width", std::to_string(c.width)},
          {"scale", std::to_string(SRResNet::scale)}, {"layout", "NHWC activations, KRSC conv weights"}};
}

Metadata discriminator_metadata(const DiscriminatorConfig& c) {
  std::ostringstream slope;
  slope << c.slope;
  return {{"arch", "srgan_discriminator"}, {"crop", std::to_string(c.crop)}, {"width", std::to_string(c.width)},
          {"dense", std::to_string(c.dense)}, {"slope", slope.str()},
          {"layout", "NHWC activations, KRSC conv weights, h.1.weight columns in HWC order"}};
}

Metadata vgg19_metadata(const VGG19Config& c) {
  return {{"arch", "vgg19_features"}, {"layer", c.layer == VggLayer::conv2_2 ? "conv2_2" : "conv5_4"},
          {"after_relu", c.after_relu ? "1" : "0"}, {"width_divisor", std::to_string(c.width_divisor)},
          {"normalize_input", c.normalize_input ? "1" : "0"}, {"layout", "NHWC activations, KRSC conv weights"}};
}

namespace {
void expect_arch(const Metadata& m, const std::string& path, const std::string& arch) {
  auto it = m.find("arch");
  if (it == m.end()) throw Error("checkpoint '" + path + "': metadata has no 'arch' (expected " + arch + ")");
  if (it->second != arch)
    throw Error("checkpoint '" + path + "': metadata arch is '" + it->second + "', expected '" + arch + "'");
}
std::string get(const Metadata& m, const std::string& path, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) throw Error("checkpoint '" + path + "': metadata has no '" + key + "'");
  return it->second;
}
int get_int(const Metadata& m, const std::string& path, const std::string& key) {
  std::string s = get(m, path, key);
  try {
    size_t used = 0;
    int v = std::stoi(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("checkpoint '" + path + "': metadata '" + key + "' = '" + s + "' is not an integer");
}
}  // namespace

SRResNetConfig srresnet_config_from_metadata(const Metadata& m, const std::string& path) {
  expect_arch(m, path, "srresnet");
  SRResNetConfig c;
  c.blocks = get_int(m, path, "blocks");
  c.width = get_int(m, path, "width");
  return c;
}

DiscriminatorConfig discriminator_config_from_metadata(const Metadata& m, const std::string& path) {
  expect_arch(m, path, "srgan_discriminator");
  DiscriminatorConfig c;
  c.crop = get_int(m, path, "crop");
  c.width = get_int(m, path, "width");
  c.dense = get_int(m, path, "dense");
  if (m.count("slope")) {
    try {
      c.slope = std::stod(m.at("slope"));
    } catch (const std::exception&) {
      throw Error("checkpoint '" + path + "': metadata 'slope' = '" + m.at("slope") + "' is not a number");
    }
  }
  return c;
}

VGG19Config vgg19_config_from_metadata(const Metadata& m, const std::string& path) {
  expect_arch(m, path, "vgg19_features");
  VGG19Config c;
  std::string layer = get(m, path, "layer");
  if (layer == "conv2_2") c.layer = VggLayer::conv2_2;
  else if (layer == "conv5_4") c.layer = VggLayer::conv5_4;
  else throw Error("checkpoint '" + path + "': metadata layer '" + layer + "' is not conv2_2 or conv5_4");
  c.after_relu = get_int(m, path, "after_relu") != 0;
  c.width_divisor = get_int(m, path, "width_divisor");
  if (m.count("normalize_input")) c.normalize_input = get_int(m, path, "normalize_input") != 0;
  return c;
}

}  // namespace srgan
