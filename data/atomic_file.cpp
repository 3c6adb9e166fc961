// AtomicFile (see atomic_file.h): temporary file + fsync + rename.
#include "data/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace srgan::data {
namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  static std::atomic<uint64_t> counter{0};
  const size_t slash = path.find_last_of('/');
  dir_ = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) throw std::runtime_error("cannot write '" + path + "': the path names a folder");
  tmp_ = dir_ + "." + base + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) throw std::runtime_error("cannot write '" + path + "': creating '" + tmp_ + "' failed (" + errno_text() + ")");
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* bytes, size_t n) {
  if (fd_ < 0) throw std::runtime_error("cannot write '" + path_ + "': the file is already closed");
  const auto* p = static_cast<const uint8_t*>(bytes);
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::write(fd_, p + done, n - done);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) throw std::runtime_error("cannot write '" + path_ + "': writing failed (" + errno_text() + ")");
    if (k == 0) throw std::runtime_error("cannot write '" + path_ + "': writing failed (no byte written)");
    done += size_t(k);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw std::runtime_error("cannot write '" + path_ + "': the file is already closed");
  std::string err;
  if (::fsync(fd_) != 0) err = "fsync failed (" + errno_text() + ")";
  if (::close(fd_) != 0 && err.empty()) err = "close failed (" + errno_text() + ")";
  fd_ = -1;
  if (err.empty() && ::rename(tmp_.c_str(), path_.c_str()) != 0) err = "rename failed (" + errno_text() + ")";
  if (!err.empty()) throw std::runtime_error("cannot write '" + path_ + "': " + err);  // the destructor unlinks
  committed_ = true;
  // The new name itself is durable only once the folder is flushed too. Best effort: the file is
  // complete and in place either way, so a failure here is not reported.
  const int dfd = ::open(dir_.empty() ? "." : dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace srgan::data
