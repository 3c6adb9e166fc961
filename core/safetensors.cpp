// safetensors reader and writer (F32/F64); files are written through data/atomic_file.h.
#include "core/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
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

SafeTensors load_safetensors(const std::string& path) {
  if (!host_is_little_endian()) file_error(path, "reading needs a little-endian host");
  std::ifstream in(path, std::ios::binary);
  if (!in) file_error(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const uint64_t file_size = uint64_t(in.tellg());
  in.seekg(0, std::ios::beg);
  if (file_size < 8)
    file_error(path, "truncated: " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(len[i]) << (8 * i);
  if (n > file_size - 8)
    file_error(path, "truncated or bad header: header length " + std::to_string(n) + " but only " +
                         std::to_string(file_size - 8) + " bytes follow the length field");
  std::string text(n, '\0');
  in.read(text.data(), std::streamsize(n));
  if (!in) file_error(path, "read error in the header");
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
    for (auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) file_error(path, "bad header: " + where + "shape has a non-integer or negative entry");
      e.shape.push_back(int64_t(d.get<uint64_t>()));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      file_error(path, "bad header: " + where + "data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.end < e.begin)
      file_error(path, where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] end before they begin");
    const uint64_t want = uint64_t(shape_numel(e.shape)) * dtype_size(e.dtype);
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
    if (t.nbytes() > 0) {
      in.seekg(std::streamoff(8 + n + e.begin), std::ios::beg);
      in.read(static_cast<char*>(t.raw()), std::streamsize(t.nbytes()));
      if (!in) file_error(path, "truncated: read of tensor '" + e.name + "' failed");
    }
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace srgan
