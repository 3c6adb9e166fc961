// Folder listing and DIV2K layout detection (see data/image_folder.h).
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace fs = std::filesystem;

namespace srgan::data {

bool has_image_extension(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp";
}

std::vector<std::string> list_image_files(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) throw std::runtime_error("image folder '" + dir + "' does not exist");
  if (!fs::is_directory(st)) throw std::runtime_error("image folder '" + dir + "' is not a folder");
  std::vector<std::string> files;
  fs::directory_iterator it(dir, ec), end;
  if (ec) throw std::runtime_error("image folder '" + dir + "' cannot be read (" + ec.message() + ")");
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::runtime_error("image folder '" + dir + "' cannot be read (" + ec.message() + ")");
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !has_image_extension(name)) continue;  // also our *.tmp files
    std::error_code ec2;
    if (it->is_directory(ec2)) continue;
    files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

FolderLayout resolve_layout(const std::string& dir, int scale, const std::string& split, const std::string& lr_dir) {
  FolderLayout L;
  std::error_code ec;
  const fs::path root(dir);
  const std::string hr_name = "DIV2K_" + split + "_HR";
  const std::string lr_sub = "DIV2K_" + split + "_LR_bicubic/X" + std::to_string(scale);
  if (fs::is_directory(root / hr_name, ec)) {  // DIR holds the unpacked archives
    L.hr_dir = (root / hr_name).string();
    L.div2k = true;
    if (fs::is_directory(root / lr_sub, ec)) L.lr_dir = (root / lr_sub).string();
  } else {
    L.hr_dir = dir;
    fs::path p = root;
    if (p.filename().empty()) p = p.parent_path();  // trailing slash
    const std::string name = p.filename().string();
    if (name.size() > 9 && name.compare(0, 6, "DIV2K_") == 0 && name.compare(name.size() - 3, 3, "_HR") == 0) {
      L.div2k = true;  // DIV2K_train_HR or DIV2K_valid_HR itself: LR beside it
      const std::string s = name.substr(6, name.size() - 9);
      const fs::path lr = p.parent_path() / ("DIV2K_" + s + "_LR_bicubic") / ("X" + std::to_string(scale));
      if (fs::is_directory(lr, ec)) L.lr_dir = lr.string();
    }
  }
  if (!lr_dir.empty()) {
    if (!fs::is_directory(lr_dir, ec)) throw std::runtime_error("LR folder '" + lr_dir + "' does not exist");
    L.lr_dir = lr_dir;
  }
  return L;
}

std::string lr_file_for(const std::string& hr_path, const std::string& lr_dir, int scale) {
  if (lr_dir.empty()) return "";
  const fs::path hr(hr_path);
  const std::string stem = hr.stem().string(), ext = hr.extension().string();
  std::error_code ec;
  const fs::path a = fs::path(lr_dir) / (stem + "x" + std::to_string(scale) + ext);
  if (fs::is_regular_file(a, ec)) return a.string();
  const fs::path b = fs::path(lr_dir) / hr.filename();
  if (fs::is_regular_file(b, ec)) return b.string();
  return "";
}

}  // namespace srgan::data
