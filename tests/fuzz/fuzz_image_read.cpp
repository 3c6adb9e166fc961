// libFuzzer harness: our image readers (data/image_io.h) on arbitrary bytes, every format they
// accept. Each input is decoded from memory as stored (8-bit), then read from a file by
// read_image_info, which must agree with the decoder (same size, channels and bits), then read
// again through read_image16 in the channel mode the last byte picks. Readers may refuse an
// input only with std::runtime_error; anything else (a crash, a sanitizer report, another
// exception, a disagreement) is a finding.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/image_io.h"

using namespace srgan::data;

namespace {

// A small pixel limit keeps each run fast (a header may claim 67 M pixels); the guard itself is
// exercised all the same.
constexpr int64_t kFuzzMaxPixels = int64_t(1) << 20;

// One file per process, rewritten for every input (parallel jobs each have their own), removed
// when the process exits normally.
struct ScratchFile {
  std::string path;
  ScratchFile() {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir ? dir : "/tmp") + "/fuzz_image_read." + std::to_string(::getpid());
  }
  ~ScratchFile() { ::unlink(path.c_str()); }
};

void write_scratch(const std::string& path, const uint8_t* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) std::abort();
  if (size > 0 && ::write(fd, data, size) != ssize_t(size)) std::abort();
  ::close(fd);
}

[[noreturn]] void disagree(const char* what, long a, long b) {
  std::fprintf(stderr, "read_image_info and the decoder disagree on %s: %ld vs %ld\n", what, a, b);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ScratchFile scratch;
  const std::string& path = scratch.path;
  const std::vector<uint8_t> bytes(data, data + size);
  ReadOptions ro;
  ro.max_pixels = kFuzzMaxPixels;
  ro.channels = ChannelMode::Stored;
  Image img;
  try {
    img = decode_image(bytes, "fuzz input", ro);
  } catch (const std::runtime_error&) {
    return 0;  // refused with a message: fine
  }
  write_scratch(path, data, size);
  ImageInfo info;
  try {
    info = read_image_info(path, kFuzzMaxPixels);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "decoded, but read_image_info refused it: %s\n", e.what());
    std::abort();
  }
  if (info.width != img.width) disagree("width", info.width, img.width);
  if (info.height != img.height) disagree("height", info.height, img.height);
  if (info.channels != img.channels) disagree("channels", info.channels, img.channels);
  ro.channels = ChannelMode(data[size - 1] % 5);
  try {
    const Image16 deep = read_image16(path, ro);
    if (deep.width != img.width || deep.height != img.height) disagree("16-bit width", deep.width, img.width);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "decoded from memory, but read_image16 refused the file: %s\n", e.what());
    std::abort();
  }
  return 0;
}
