// The one way srgan writes a file (images, checkpoints, weights, logs, JSON reports).
//
// A regular file (or a new one) is written atomically: bytes go to a temporary file in the
// target's folder, ".<name>.tmp.<pid>.<n>"; commit() flushes it to disk (fsync), renames it over
// the target and flushes the folder, so a reader sees the old file or the complete new one, never
// a part. Destroyed without commit() (an exception, a failed encode), it removes the temporary
// file and leaves the target as it was.
//
// Targets that are not regular files are never replaced by one: a device, FIFO or socket
// (-o /dev/null, --json /dev/stdout to a terminal or pipe) is written in place, as `cat > target`
// would; so is a file named through a descriptor (/dev/stdout, /dev/fd/N, /proc/self/fd/N
// redirected to a file: appended to, after what the program already printed). A symbolic link
// to a regular file keeps being a link: the file it points to is replaced atomically. A folder,
// or a link to nothing, is refused.
#pragma once
#include <cstddef>
#include <string>

namespace srgan::data {

class AtomicFile {
 public:
  // Creates the temporary file (or opens the special file); throws naming `path` if that fails
  // (missing or read-only folder, a folder as target, a dangling link).
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* bytes, size_t n);  // throws naming the target (disk full, I/O error)
  void commit();                            // fsync, close, rename; throws naming the target
  const std::string& path() const { return path_; }
  bool in_place() const { return in_place_; }  // a special file, written directly

 private:
  std::string path_;    // as given (for messages)
  std::string target_;  // the file renamed over: path_, or what a symbolic link points to
  std::string dir_;     // target_'s folder with its '/', or "" (the working folder)
  std::string tmp_;     // the temporary file ("" when in place)
  int fd_ = -1;
  bool in_place_ = false;
  bool committed_ = false;
};

// Atomic write of a whole buffer or text.
void write_file_atomic(const std::string& path, const void* bytes, size_t n);
void write_file_atomic(const std::string& path, const std::string& text);

// The temporary files a killed srgan left beside `target` (".<name>.tmp.<pid>.<n>", the exact
// pattern above, for a process id that is no longer running) are removed; returns how many.
// Other files, and those of a process still alive, are never touched.
int remove_stale_temp_files(const std::string& target);
// The same for every target in `folder` (a folder only srgan writes to, such as a run folder).
int remove_stale_temp_files_in(const std::string& folder);

}  // namespace srgan::data
