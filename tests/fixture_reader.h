// Reader for the PyTorch reference fixtures written by tools/scripts/make_reference.py
// (tests/fixtures/reference/*.srgf). Header-only: only tests/test_*.cpp files are compiled.
//
// File format, version 1 (all integers little-endian; must match tools/scripts/make_reference.py):
//   bytes 0..3    magic "SRGF"
//   uint32        version (= 1)
//   uint32        number of arrays
//   then, for each array:
//     uint32        length of the name in bytes, then the name (ASCII, e.g. "c0.x")
//     uint32        dtype code: 0 = float32, 1 = float64
//     uint32        ndim (0 for a scalar)
//     int64[ndim]   shape
//     data          prod(shape) elements, little-endian, row-major
// Arrays are already in the engine's layout (activations NHWC, conv weights KRSC). Names are
// "<case>.<field>" ("c0.x", "c0.dx"); settings are float64 scalars ("c0.stride"); the float64
// scalar "cases" holds the number of cases in the file.
//
// Every problem (missing file, bad magic, unknown version, truncated data, missing array) throws
// std::runtime_error naming the file, so a test that cannot read its fixture fails (never skips).
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace srgan::test {

struct FixtureArray {
  std::string name;
  DType dtype = DType::f64;  // as stored (f32 values are held exactly in `data`)
  Shape shape;
  std::vector<double> data;  // row-major, prod(shape) values
};

class Fixture {
 public:
  static constexpr uint32_t kVersion = 1;

  static Fixture load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("fixture " + path + ": cannot open (regenerate with /usr/bin/python3 tools/scripts/make_reference.py)");
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Fixture fx;
    fx.path_ = path;
    size_t pos = 0;
    auto need = [&](size_t n, const char* what) {
      if (bytes.size() - pos < n)
        throw std::runtime_error("fixture " + path + ": truncated while reading " + what + " at byte " + std::to_string(pos));
    };
    auto u32 = [&](const char* what) {
      need(4, what);
      uint32_t v = 0;
      for (int i = 0; i < 4; ++i) v |= uint32_t(bytes[pos + i]) << (8 * i);
      pos += 4;
      return v;
    };
    auto u64 = [&](const char* what) {
      need(8, what);
      uint64_t v = 0;
      for (int i = 0; i < 8; ++i) v |= uint64_t(bytes[pos + i]) << (8 * i);
      pos += 8;
      return v;
    };
    need(4, "magic");
    if (std::memcmp(bytes.data(), "SRGF", 4) != 0)
      throw std::runtime_error("fixture " + path + ": bad magic (expected \"SRGF\"), not a reference fixture");
    pos = 4;
    uint32_t version = u32("version");
    if (version != kVersion)
      throw std::runtime_error("fixture " + path + ": version " + std::to_string(version) + ", this reader knows version " +
                               std::to_string(kVersion) + " (regenerate with tools/scripts/make_reference.py)");
    uint32_t count = u32("array count");
    for (uint32_t a = 0; a < count; ++a) {
      FixtureArray arr;
      uint32_t name_len = u32("name length");
      need(name_len, "name");
      arr.name.assign(reinterpret_cast<const char*>(bytes.data() + pos), name_len);
      pos += name_len;
      uint32_t code = u32("dtype");
      if (code > 1) throw std::runtime_error("fixture " + path + ": array " + arr.name + " has unknown dtype code " + std::to_string(code));
      arr.dtype = code == 0 ? DType::f32 : DType::f64;
      uint32_t ndim = u32("ndim");
      if (ndim > 8) throw std::runtime_error("fixture " + path + ": array " + arr.name + " has " + std::to_string(ndim) + " dims");
      int64_t numel = 1;
      for (uint32_t d = 0; d < ndim; ++d) {
        int64_t dim = int64_t(u64("shape"));
        if (dim < 0 || dim > (int64_t(1) << 31))
          throw std::runtime_error("fixture " + path + ": array " + arr.name + " has a bad dimension " + std::to_string(dim));
        arr.shape.push_back(dim);
        numel *= dim;
      }
      arr.data.resize(size_t(numel));
      if (code == 0) {
        need(size_t(numel) * 4, arr.name.c_str());
        for (int64_t i = 0; i < numel; ++i) {
          uint32_t bits = u32("data");
          float v;
          std::memcpy(&v, &bits, 4);
          arr.data[size_t(i)] = double(v);
        }
      } else {
        need(size_t(numel) * 8, arr.name.c_str());
        for (int64_t i = 0; i < numel; ++i) {
          uint64_t bits = u64("data");
          double v;
          std::memcpy(&v, &bits, 8);
          arr.data[size_t(i)] = v;
        }
      }
      if (fx.arrays_.count(arr.name)) throw std::runtime_error("fixture " + path + ": duplicate array " + arr.name);
      std::string key = arr.name;
      fx.arrays_.emplace(key, std::move(arr));
    }
    if (pos != bytes.size())
      throw std::runtime_error("fixture " + path + ": " + std::to_string(bytes.size() - pos) + " trailing bytes after the last array");
    return fx;
  }

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return arrays_.count(name) != 0; }

  const FixtureArray& get(const std::string& name) const {
    auto it = arrays_.find(name);
    if (it == arrays_.end()) throw std::runtime_error("fixture " + path_ + ": no array named " + name);
    return it->second;
  }

  // A scalar setting (stride, pad, ...), as double.
  double scalar(const std::string& name) const {
    const FixtureArray& a = get(name);
    if (a.data.size() != 1)
      throw std::runtime_error("fixture " + path_ + ": array " + name + " of shape " + shape_str(a.shape) + " is not a scalar");
    return a.data[0];
  }
  int integer(const std::string& name) const { return int(scalar(name)); }
  int cases() const { return integer("cases"); }

  // The array as a CPU Tensor in its stored dtype (no autograd).
  Tensor tensor(const std::string& name) const { return tensor(name, get(name).dtype); }

  // The array as a CPU Tensor of the given dtype (f32 <-> f64 converted).
  Tensor tensor(const std::string& name, DType dtype) const {
    const FixtureArray& a = get(name);
    if (dtype == DType::f64) return Tensor::from_vector(a.data, a.shape);
    return Tensor::from_vector(std::vector<float>(a.data.begin(), a.data.end()), a.shape);
  }

 private:
  std::string path_;
  std::map<std::string, FixtureArray> arrays_;
};

// tests/fixtures/reference/<name>.srgf (SRGAN_FIXTURE_DIR is set by tests/CMakeLists.txt).
inline std::string reference_fixture_path(const std::string& name) {
#ifdef SRGAN_FIXTURE_DIR
  return std::string(SRGAN_FIXTURE_DIR) + "/reference/" + name + ".srgf";
#else
  return "tests/fixtures/reference/" + name + ".srgf";
#endif
}

inline Fixture load_reference_fixture(const std::string& name) { return Fixture::load(reference_fixture_path(name)); }

}  // namespace srgan::test
