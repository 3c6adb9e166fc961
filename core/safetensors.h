// Reading and writing safetensors files, the weight format PyTorch users can exchange with us.
// Layout of a file:
//   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
//   bytes [8, 8+N)      a JSON object: for each tensor
//                         "name": {"dtype": "F32"|"F64", "shape": [...], "data_offsets": [begin, end]}
//                       and optionally "__metadata__": {"key": "string value", ...}
//   bytes [8+N, ...)    the data buffer; offsets are relative to its start; row-major, little-endian
// We read and write F32 and F64 only (other dtypes are refused with a clear error). Tensors are
// stored exactly as they are in memory (NHWC activations, KRSC conv weights): the converters in
// tools/scripts/ permute PyTorch's layouts. Writes are atomic (data/atomic_file.h): a temporary
// file in the same folder is written, flushed, fsync'ed and renamed over the target, so a crash or
// error never leaves a half-written file under the real name, and the old file survives any failure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace srgan {

using TensorList = std::vector<std::pair<std::string, Tensor>>;  // same type as layers' NamedTensors
using Metadata = std::map<std::string, std::string>;

struct SafeTensors {
  TensorList tensors;  // CPU tensors, in the order of their data offsets in the file
  Metadata metadata;   // the "__metadata__" map (empty when absent)
  // The tensor called `name`, or an undefined Tensor.
  Tensor find(const std::string& name) const;
};

// Writes `tensors` (any device; copied to the host) and `metadata` to `path` atomically.
// Names must be unique, non-empty and not "__metadata__"; every tensor must be defined.
// Errors (srgan::Error) name the file and the problem.
void save_safetensors(const std::string& path, const TensorList& tensors, const Metadata& metadata = {});

// Reads a whole file into CPU tensors (F32 -> f32, F64 -> f64). Errors name the file and the
// problem: missing file, truncated file, header length or JSON that does not parse, an entry
// without dtype/shape/data_offsets, offsets out of range or not matching the shape, overlapping
// tensors, an unsupported dtype.
// NaN or infinite values are refused, naming the tensor; so is a shape whose byte count
// overflows 64 bits.
SafeTensors load_safetensors(const std::string& path);
// The same from bytes in memory (a fuzzing entry point); `name` stands for the file in errors.
SafeTensors load_safetensors_from_memory(const uint8_t* bytes, size_t size, const std::string& name);

}  // namespace srgan
