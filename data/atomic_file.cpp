// AtomicFile (see atomic_file.h): temporary file + fsync + rename, or a direct write for special
// files; and the removal of the temporary files a killed process left behind.
#include "data/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace srgan::data {
namespace {

std::string errno_text() { return std::strerror(errno); }

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("cannot write '" + path + "': " + what);
}

// /dev/stdout, /dev/fd/3, /proc/self/fd/1: a name for a file descriptor this process already has
// open (a redirected standard output, a pipe). Such a file is written through, never replaced.
bool is_fd_alias(const std::string& p) {
  if (p == "/dev/stdout" || p == "/dev/stderr" || p.rfind("/dev/fd/", 0) == 0) return true;
  if (p.rfind("/proc/", 0) != 0) return false;
  const size_t fd = p.find("/fd/", 6);
  return fd != std::string::npos && p.find('/', 6) == fd;  // /proc/<self|pid>/fd/<n>
}

void split_path(const std::string& path, std::string* dir, std::string* base) {
  const size_t slash = path.find_last_of('/');
  *dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  *base = slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* const kTempTag = ".tmp.";

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path), target_(path) {
  if (path.empty()) fail(path, "no file name given");
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;  // what the path finally names
  struct stat link_st {};
  const bool is_link = ::lstat(path.c_str(), &link_st) == 0 && S_ISLNK(link_st.st_mode);
  if (is_link && !exists) fail(path, "it is a symbolic link to nothing");
  if (exists && S_ISDIR(st.st_mode)) fail(path, "it is a folder");
  in_place_ = exists && (!S_ISREG(st.st_mode) || is_fd_alias(path));
  if (is_link && !in_place_) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) fail(path, "resolving the symbolic link failed (" + errno_text() + ")");
    target_ = resolved;  // replace the file the link points to; the link stays a link
  }
  if (in_place_) {
    // A regular file reached through a descriptor's name (a redirected standard output) is
    // appended to, so what the program printed before stays; devices and FIFOs take the bytes
    // as they come.
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | (S_ISREG(st.st_mode) ? O_APPEND : 0));
    if (fd_ < 0) fail(path, "opening it failed (" + errno_text() + ")");
    return;
  }
  static std::atomic<uint64_t> counter{0};
  std::string base;
  split_path(target_, &dir_, &base);
  if (base.empty()) fail(path, "the path names a folder");
  tmp_ = dir_ + "." + base + kTempTag + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) fail(path, "creating '" + tmp_ + "' failed (" + errno_text() + ")");
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* bytes, size_t n) {
  if (fd_ < 0) fail(path_, "the file is already closed");
  const auto* p = static_cast<const uint8_t*>(bytes);
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::write(fd_, p + done, n - done);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) fail(path_, "writing failed (" + errno_text() + ")");
    if (k == 0) fail(path_, "writing failed (no byte written)");
    done += size_t(k);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) fail(path_, "the file is already closed");
  std::string err;
  // A device or pipe may refuse fsync (EINVAL); there is nothing to make durable then.
  if (::fsync(fd_) != 0 && !(in_place_ && (errno == EINVAL || errno == EROFS)))
    err = "fsync failed (" + errno_text() + ")";
  if (::close(fd_) != 0 && err.empty()) err = "close failed (" + errno_text() + ")";
  fd_ = -1;
  if (err.empty() && !in_place_ && ::rename(tmp_.c_str(), target_.c_str()) != 0)
    err = "rename failed (" + errno_text() + ")";
  if (!err.empty()) fail(path_, err);  // the destructor unlinks the temporary file
  committed_ = true;
  if (in_place_) return;
  // The new name itself is durable only once the folder is flushed too. Best effort: the file is
  // complete and in place either way, so a failure here is not reported.
  const int dfd = ::open(dir_.empty() ? "." : dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, const void* bytes, size_t n) {
  AtomicFile file(path);
  file.write(bytes, n);
  file.commit();
}

void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

namespace {

// ".<base>.tmp.<pid>.<n>" of a process that no longer runs, with `base` given or any non-empty
// name when `base` is null.
bool is_stale_temp_name(const std::string& name, const std::string* base) {
  if (name.size() < 2 || name[0] != '.') return false;
  const size_t tag = base ? 1 + base->size() : name.rfind(kTempTag);
  if (tag == std::string::npos || tag < 2 || tag + std::strlen(kTempTag) > name.size() ||
      name.compare(tag, std::strlen(kTempTag), kTempTag) != 0)
    return false;
  if (base && name.compare(1, base->size(), *base) != 0) return false;
  const std::string rest = name.substr(tag + std::strlen(kTempTag));  // <pid>.<n>
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string::npos || dot + 1 == rest.size()) return false;
  if (rest.find_first_not_of("0123456789.") != std::string::npos || rest.find('.', dot + 1) != std::string::npos)
    return false;
  const long pid = std::strtol(rest.substr(0, dot).c_str(), nullptr, 10);
  if (pid <= 0 || pid > INT_MAX) return false;
  return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;  // no such process (alive, or not ours to judge: kept)
}

int remove_stale(const std::string& dir, const std::string* base) {
  std::error_code ec;
  int removed = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.empty() ? "." : dir, ec)) {
    std::error_code rm_ec;
    if (is_stale_temp_name(e.path().filename().string(), base) && e.is_regular_file(rm_ec) &&
        std::filesystem::remove(e.path(), rm_ec))
      ++removed;
  }
  return removed;
}

}  // namespace

int remove_stale_temp_files(const std::string& target) {
  std::string dir, base;
  split_path(target, &dir, &base);
  return base.empty() ? 0 : remove_stale(dir, &base);
}

int remove_stale_temp_files_in(const std::string& folder) { return remove_stale(folder, nullptr); }

}  // namespace srgan::data
