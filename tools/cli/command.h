// The `srgan` command registry and a small option parser shared by every command file.
// A command file defines `static int run(const Args&)` and registers it with SRGAN_COMMAND.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace srgan::cli {

// Options as `--name value`, `-x value` or `--flag`; everything else is positional. `--name=value` works too.
class Args {
 public:
  Args(int argc, char** argv, const std::vector<std::string>& flags);  // flags take no value
  bool has(const std::string& name) const { return opts_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& def) const;
  int64_t get_int(const std::string& name, int64_t def) const;
  int get_int32(const std::string& name, int def) const;  // throws when out of int's range
  double get_double(const std::string& name, double def) const;
  const std::vector<std::string>& positional() const { return pos_; }
  // Throws if an option not in `known` was given (catches typos such as --step for --steps).
  void allow_only(const std::vector<std::string>& known) const;

 private:
  std::map<std::string, std::string> opts_;
  std::vector<std::string> pos_;
};

struct Command {
  std::string name;
  std::string summary;  // one line for `srgan --help`
  std::string usage;    // full text for `srgan NAME --help`
  int (*run)(const Args& args);
  std::vector<std::string> flags;  // options that take no value
};

int register_command(const Command& c);

// Applies --threads N (default: all cores) to the CPU path; more than the core count is capped,
// with a warning on stderr.
void apply_threads_option(const Args& a);
const std::map<std::string, Command>& commands();

}  // namespace srgan::cli

#define SRGAN_CONCAT_INNER(a, b) a##b
#define SRGAN_CONCAT(a, b) SRGAN_CONCAT_INNER(a, b)
#define SRGAN_COMMAND(...) \
  static const int SRGAN_CONCAT(srgan_command_registered_, __LINE__) = ::srgan::cli::register_command(__VA_ARGS__)
