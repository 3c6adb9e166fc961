// data/atomic_file.h, the one way srgan writes files: regular files are replaced atomically;
// special files (/dev/null, FIFOs, a descriptor's name such as /proc/self/fd/N) are written in
// place and stay what they were; a symbolic link stays a link while its target is replaced;
// folders and dangling links are refused; stale temporary files of dead processes are removed,
// and nothing else is.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "data/atomic_file.h"
#include "tests/test_common.h"

using namespace srgan::data;
using srgan::test::Contains;
using srgan::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

mode_t type_of(const std::string& path, bool follow = true) {
  struct stat st {};
  REQUIRE((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) == 0);
  return st.st_mode & S_IFMT;
}

int files_in(const fs::path& dir) {
  int n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += int(e.exists());
  return n;
}

}  // namespace

TEST_CASE("atomic file: a regular file is replaced whole, an abandoned one left as it was", "[data][atomic]") {
  TempDir tmp("atomic_regular");
  const std::string p = tmp.file("out.json");
  write_file_atomic(p, std::string("first"));
  const ino_t before = [&] { struct stat st {}; ::stat(p.c_str(), &st); return st.st_ino; }();
  write_file_atomic(p, std::string("second"));
  CHECK(read_text(p) == "second");
  struct stat st {};
  ::stat(p.c_str(), &st);
  CHECK(st.st_ino != before);  // a new file renamed over the old one, not rewritten in place
  {
    AtomicFile f(p);
    CHECK_FALSE(f.in_place());
    f.write("third", 5);
  }  // abandoned: no commit
  CHECK(read_text(p) == "second");
  CHECK(files_in(tmp.path) == 1);
}

TEST_CASE("atomic file: /dev/null stays a device", "[data][atomic]") {
  AtomicFile f("/dev/null");
  CHECK(f.in_place());
  f.write("x", 1);
  f.commit();
  CHECK(type_of("/dev/null") == S_IFCHR);
}

TEST_CASE("atomic file: a FIFO is written through and stays a FIFO", "[data][atomic]") {
  TempDir tmp("atomic_fifo");
  const std::string p = tmp.file("pipe");
  REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
  std::string got;
  std::thread reader([&] { got = read_text(p); });
  write_file_atomic(p, std::string("through the pipe"));
  reader.join();
  CHECK(got == "through the pipe");
  CHECK(type_of(p) == S_IFIFO);
  CHECK(files_in(tmp.path) == 1);
}

TEST_CASE("atomic file: a descriptor's name (a redirected stdout) is appended to, not replaced", "[data][atomic]") {
  TempDir tmp("atomic_fd");
  const std::string p = tmp.file("stdout.txt");
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, "printed before\n", 15) == 15);
  const std::string alias = "/proc/self/fd/" + std::to_string(fd);
  {
    AtomicFile f(alias);
    CHECK(f.in_place());
    f.write("{\"json\": 1}\n", 12);
    f.commit();
  }
  CHECK(read_text(p) == "printed before\n{\"json\": 1}\n");
  struct stat by_fd {}, by_name {};
  ::fstat(fd, &by_fd);
  ::stat(p.c_str(), &by_name);
  CHECK(by_fd.st_ino == by_name.st_ino);  // the file the descriptor holds is the one on disk
  ::close(fd);
}

TEST_CASE("atomic file: a symbolic link stays a link, the file it points to is replaced", "[data][atomic]") {
  TempDir tmp("atomic_link");
  const std::string target = tmp.file("real.png"), link = tmp.file("link.png");
  write_file_atomic(target, std::string("old"));
  fs::create_symlink(target, link);
  write_file_atomic(link, std::string("new"));
  CHECK(type_of(link, false) == S_IFLNK);
  CHECK(fs::read_symlink(link) == fs::path(target));
  CHECK(read_text(target) == "new");
  CHECK(files_in(tmp.path) == 2);
}

TEST_CASE("atomic file: folders, dangling links and missing folders are refused by name", "[data][atomic]") {
  TempDir tmp("atomic_refuse");
  CHECK_THROWS_WITH(AtomicFile(tmp.path.string()), Contains(tmp.path.string()) && Contains("folder"));
  const std::string dangling = tmp.file("dangling.png");
  fs::create_symlink(tmp.file("nowhere.png"), dangling);
  CHECK_THROWS_WITH(AtomicFile(dangling), Contains("dangling.png") && Contains("symbolic link to nothing"));
  CHECK_THROWS_WITH(AtomicFile(tmp.file("missing/x.png")), Contains("missing/x.png"));
  CHECK_THROWS_WITH(AtomicFile(""), Contains("no file name"));
}

TEST_CASE("stale temporary files of dead processes are removed, and nothing else", "[data][atomic]") {
  TempDir tmp("atomic_stale");
  const std::string target = tmp.file("last.safetensors");
  const pid_t dead = srgan::test::dead_pid();
  const std::string stale = tmp.file(".last.safetensors.tmp." + std::to_string(dead) + ".0");
  const std::string alive = tmp.file(".last.safetensors.tmp." + std::to_string(::getpid()) + ".7");
  const std::string other_name = tmp.file(".best.safetensors.tmp." + std::to_string(dead) + ".0");
  const std::string not_ours = tmp.file(".last.safetensors.tmp." + std::to_string(dead) + ".0.bak");
  const std::string user_file = tmp.file("last.safetensors.tmp");
  for (const auto& f : {target, stale, alive, other_name, not_ours, user_file}) write_file_atomic(f, std::string("x"));
  CHECK(remove_stale_temp_files(target) == 1);
  CHECK_FALSE(fs::exists(stale));
  for (const auto& f : {target, alive, other_name, not_ours, user_file}) {
    INFO(f);
    CHECK(fs::exists(f));
  }
  CHECK(remove_stale_temp_files(tmp.file("best.safetensors")) == 1);
  CHECK_FALSE(fs::exists(other_name));

  // The whole folder: every stale temporary file, whatever its target, and nothing else.
  const std::string stale_a = tmp.file(".sample_step5.png.tmp." + std::to_string(dead) + ".3");
  const std::string stale_b = tmp.file(".train_log.jsonl.tmp." + std::to_string(dead) + ".12");
  const std::string short_name = tmp.file(".tmp." + std::to_string(dead) + ".1");
  for (const auto& f : {stale_a, stale_b, short_name}) write_file_atomic(f, std::string("x"));
  CHECK(remove_stale_temp_files_in(tmp.path.string()) == 2);
  CHECK_FALSE(fs::exists(stale_a));
  CHECK_FALSE(fs::exists(stale_b));
  for (const auto& f : {target, alive, not_ours, user_file, short_name}) {
    INFO(f);
    CHECK(fs::exists(f));
  }
}
