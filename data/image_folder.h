// Finding images on disk: plain folders of images and the DIV2K layout as downloaded.
//
// DIV2K (https://data.vision.ee.ethz.ch/cvl/DIV2K/) unpacks to
//   DIV2K_train_HR/0001.png ... 0800.png          DIV2K_valid_HR/0801.png ... 0900.png
//   DIV2K_train_LR_bicubic/X4/0001x4.png ...      DIV2K_valid_LR_bicubic/X4/0801x4.png ...
// resolve_layout accepts the folder holding those (DIR/DIV2K_train_HR exists), the HR folder
// itself (named DIV2K_<split>_HR, LR looked up beside it), or any folder of images.
//
// LAYOUT: no pixels here, only paths (decoding is data/image_io.h).
#pragma once
#include <string>
#include <vector>

namespace srgan::data {

// True for .png .jpg .jpeg .bmp (any letter case).
bool has_image_extension(const std::string& name);

// Paths of the image files directly inside `dir` (not recursive), sorted by file name.
// Throws std::runtime_error naming the folder when it does not exist, is not a folder, or
// cannot be read. May return an empty list (callers decide whether that is an error).
std::vector<std::string> list_image_files(const std::string& dir);

struct FolderLayout {
  std::string hr_dir;
  std::string lr_dir;  // "" when there is no LR folder
  bool div2k = false;
};

// `split` is "train" or "valid"; `lr_dir` (optional) overrides the LR folder search.
FolderLayout resolve_layout(const std::string& dir, int scale, const std::string& split = "train",
                            const std::string& lr_dir = "");

// The LR file of an HR file: <lr_dir>/<stem>x<scale><ext> (DIV2K naming) or <lr_dir>/<name>;
// "" when neither exists or lr_dir is "".
std::string lr_file_for(const std::string& hr_path, const std::string& lr_dir, int scale);

}  // namespace srgan::data
