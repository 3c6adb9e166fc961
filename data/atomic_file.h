// A file written atomically: bytes go to a temporary file in the target's folder; commit()
// flushes it to disk (fsync) and renames it over the target, so a reader sees the old file or
// the complete new one, never a part. Destroyed without commit() (an exception, a failed
// encode), it removes the temporary file and leaves the target as it was.
#pragma once
#include <cstddef>
#include <string>

namespace srgan::data {

class AtomicFile {
 public:
  // Creates the temporary file; throws naming `path` if that fails (missing or read-only folder).
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* bytes, size_t n);  // throws naming the target (disk full, I/O error)
  void commit();                            // fsync, close, rename; throws naming the target
  const std::string& path() const { return path_; }

 private:
  std::string path_, dir_, tmp_;  // dir_: the target's folder with its '/', or "" (the working folder)
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace srgan::data
