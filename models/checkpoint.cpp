// Checkpoint save/load by name with one complete error report, and architecture metadata.
#include "models/checkpoint.h"

#include <map>
#include <set>
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

void check_srresnet_config(const SafeTensors& file, const SRResNetConfig& cfg, const std::string& path) {
  auto refuse = [&](const std::string& what) { throw Error("model file '" + path + "': " + what); };
  const std::string says = "metadata says blocks=" + std::to_string(cfg.blocks) + " width=" + std::to_string(cfg.width);
  if (cfg.blocks < 0 || cfg.width < 1) refuse(says + ": blocks must be >= 0 and width >= 1");
  const std::string prefix = file.find("G.head.0.weight").defined() ? "G." : "";
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : file.tensors) shapes[name] = t.shape();
  auto expect_shape = [&](const std::string& name, const Shape& want) {
    auto it = shapes.find(prefix + name);
    if (it == shapes.end()) refuse(says + " but the file holds no " + prefix + name);
    if (it->second != want)
      refuse(says + " but " + prefix + name + " has shape " + shape_str(it->second) + ", not " + shape_str(want));
  };
  const int64_t w = cfg.width;
  expect_shape("head.0.weight", {w, 9, 9, 3});
  // The residual blocks in the file: the k of every name "<prefix>body.<k>.<...>". They must be
  // 0 .. blocks-1, each with its first conv (w x 3 x 3 x w weights): the network then holds no
  // more than about twice the weights the file does.
  std::set<int64_t> ks;
  const std::string body = prefix + "body.";
  for (const auto& [name, shape] : shapes) {
    if (name.compare(0, body.size(), body) != 0) continue;
    const size_t dot = name.find('.', body.size());
    const std::string k = name.substr(body.size(), dot == std::string::npos ? std::string::npos : dot - body.size());
    if (k.empty() || k.size() > 9 || k.find_first_not_of("0123456789") != std::string::npos)
      refuse("tensor '" + name + "' is not named like a residual block (" + body + "<number>.)");
    ks.insert(std::stoll(k));
  }
  const int64_t blocks = ks.empty() ? 0 : *ks.rbegin() + 1;
  if (blocks != cfg.blocks || int64_t(ks.size()) != blocks)
    refuse(says + " but the file holds residual blocks " + (ks.empty() ? "none" : body + "0 to " + body + std::to_string(blocks - 1)) +
           (int64_t(ks.size()) != blocks ? " with gaps" : ""));
  for (int64_t k = 0; k < blocks; ++k) expect_shape("body." + std::to_string(k) + ".c1.weight", {w, 3, 3, w});
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
