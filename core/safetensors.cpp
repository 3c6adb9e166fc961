// safetensors reader and writer (F32/F64); files are written through data/atomic_file.h.
#include "core/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "core/check.h"
#include "data/atomic_file.h"

namespace srgan {

namespace {

[[noreturn]] void file_error(const std::string& path, const std::string& what) {
  throw Error("safetensors file '" + path + "': " + what);
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

const char* st_dtype(DType t) { return t == DType::f32 ? "F32" : "F64"; }

}  // namespace

Tensor SafeTensors::find(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return t;
  return Tensor();
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

void save_safetensors(const std::string& path, const TensorList& tensors, const Metadata& metadata) {
  if (!host_is_little_endian()) file_error(path, "writing needs a little-endian host");
  std::set<std::string> names;
  std::vector<Tensor> host;  // host copies, in order
  host.reserve(tensors.size());
  for (auto& [name, t] : tensors) {
    if (name.empty()) file_error(path, "cannot save a tensor with an empty name");
    if (name == "__metadata__") file_error(path, "'__metadata__' is reserved and cannot name a tensor");
    if (!names.insert(name).second) file_error(path, "tensor name '" + name + "' appears twice");
    if (!t.defined()) file_error(path, "tensor '" + name + "' is undefined");
    host.push_back(t.to(Device::cpu));
  }

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = host[i];
    uint64_t bytes = t.nbytes();
    header[tensors[i].first] = {{"dtype", st_dtype(t.dtype())},
                                {"shape", t.shape()},
                                {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // align the data buffer to 8 bytes
  const uint64_t n = text.size();

  try {
    data::AtomicFile file(path);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = (unsigned char)((n >> (8 * i)) & 0xff);
    file.write(len, 8);
    file.write(text.data(), text.size());
    for (const Tensor& t : host)
      if (t.nbytes() > 0) file.write(t.raw(), t.nbytes());
    file.commit();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // data/ reports std::runtime_error; this file promises srgan::Error
    throw Error(e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

namespace {

// Bytes [offset, offset + n) of the file into dst, or an error whose text is `what`.
using ReadAt = std::function<void(uint64_t offset, void* dst, size_t n, const std::string& what)>;

// The byte count of a tensor of `shape` and `dtype`, or 0 with *overflow set when a dimension
// does not fit int64 or the count does not fit 64 bits (a header can claim 2^64 elements).
uint64_t tensor_bytes(const std::vector<uint64_t>& shape, DType dtype, bool* overflow) {
  uint64_t n = dtype_size(dtype);
  *overflow = false;
  for (uint64_t d : shape)
    if (d > uint64_t(INT64_MAX) || __builtin_mul_overflow(n, d, &n)) *overflow = true;
  return *overflow ? 0 : n;
}

// How many values of `t` (a CPU tensor) are NaN or infinite, and the flat index of the first.
template <class T>
size_t count_non_finite(const T* v, size_t n, size_t* first) {
  size_t bad = 0;
  for (size_t i = n; i-- > 0;)
    if (!std::isfinite(v[i])) ++bad, *first = i;
  return bad;
}

SafeTensors read_safetensors(const std::string& path, uint64_t file_size, const ReadAt& read_at) {
  if (file_size < 8)
    file_error(path, "truncated: " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  unsigned char len[8];
  read_at(0, len, 8, "read error in the header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(len[i]) << (8 * i);
  if (n > file_size - 8)
    file_error(path, "truncated or bad header: header length " + std::to_string(n) + " but only " +
                         std::to_string(file_size - 8) + " bytes follow the length field");
  std::string text(n, '\0');
  read_at(8, text.data(), n, "read error in the header");
  const uint64_t data_size = file_size - 8 - n;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    file_error(path, std::string("bad header: JSON does not parse: ") + e.what());
  }
  if (!header.is_object()) file_error(path, "bad header: the JSON header is not an object");

  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  SafeTensors out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) file_error(path, "bad header: __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          file_error(path, "bad header: __metadata__ value of '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      file_error(path, "bad header: " + where + "needs dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) file_error(path, "bad header: " + where + "dtype is not a string");
    std::string dt = v["dtype"].get<std::string>();
    Entry e;
    e.name = name;
    if (dt == "F32") e.dtype = DType::f32;
    else if (dt == "F64") e.dtype = DType::f64;
    else file_error(path, where + "unsupported dtype " + dt + " (only F32 and F64 are read)");
    if (!v["shape"].is_array()) file_error(path, "bad header: " + where + "shape is not an array");
    std::vector<uint64_t> dims;
    std::string dims_text;  // as written, for messages (a dimension may not fit int64)
    for (auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) file_error(path, "bad header: " + where + "shape has a non-integer or negative entry");
      dims.push_back(d.get<uint64_t>());
      dims_text += (dims_text.empty() ? "" : ", ") + std::to_string(dims.back());
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      file_error(path, "bad header: " + where + "data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.end < e.begin)
      file_error(path, where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] end before they begin");
    bool overflow = false;
    const uint64_t want = tensor_bytes(dims, e.dtype, &overflow);
    if (overflow)
      file_error(path, where + "shape (" + dims_text + ") " + dt + " needs 2^64 bytes or more: a corrupt header");
    for (uint64_t d : dims) e.shape.push_back(int64_t(d));
    if (e.end - e.begin != want)
      file_error(path, where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] hold " +
                           std::to_string(e.end - e.begin) + " bytes but shape " + shape_str(e.shape) + " " + dt +
                           " needs " + std::to_string(want));
    if (e.end > data_size)
      file_error(path, "truncated or offsets out of range: " + where + "data_offsets [" + std::to_string(e.begin) + ", " +
                           std::to_string(e.end) + "] run past the end of the data buffer (" +
                           std::to_string(data_size) + " bytes)");
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i].begin < entries[i - 1].end)
      file_error(path, "bad header: tensors '" + entries[i - 1].name + "' and '" + entries[i].name + "' overlap");

  for (auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu);
    if (t.nbytes() > 0) read_at(8 + n + e.begin, t.raw(), t.nbytes(), "truncated: read of tensor '" + e.name + "' failed");
    // NaN or Inf weights would spread through every output: refuse them here, by name.
    size_t first = 0;
    const size_t bad = e.dtype == DType::f32 ? count_non_finite(t.data<float>(), size_t(t.numel()), &first)
                                             : count_non_finite(t.data<double>(), size_t(t.numel()), &first);
    if (bad > 0)
      file_error(path, "tensor '" + e.name + "' holds " + std::to_string(bad) + " NaN or infinite value" +
                           (bad > 1 ? "s" : "") + " (the first at flat index " + std::to_string(first) + ")");
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace

SafeTensors load_safetensors(const std::string& path) {
  if (!host_is_little_endian()) file_error(path, "reading needs a little-endian host");
  std::ifstream in(path, std::ios::binary);
  if (!in) file_error(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) file_error(path, "cannot open: not a seekable regular file");
  in.seekg(0, std::ios::beg);
  return read_safetensors(path, uint64_t(end), [&](uint64_t offset, void* dst, size_t n, const std::string& what) {
    in.seekg(std::streamoff(offset), std::ios::beg);
    in.read(static_cast<char*>(dst), std::streamsize(n));
    if (!in) file_error(path, what);
  });
}

SafeTensors load_safetensors_from_memory(const uint8_t* bytes, size_t size, const std::string& name) {
  if (!host_is_little_endian()) file_error(name, "reading needs a little-endian host");
  return read_safetensors(name, size, [&](uint64_t offset, void* dst, size_t n, const std::string& what) {
    if (offset > size || n > size - offset) file_error(name, what);
    std::memcpy(dst, bytes + offset, n);
  });
}

}  // namespace srgan
