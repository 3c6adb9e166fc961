// libFuzzer harness: the EXIF Orientation parser (data/exif_orientation.h) on arbitrary bytes,
// which it reads as the start of a JPEG file. It must stay inside the n bytes it is given (ASan
// sees the input's exact end) and answer 1..8; the answer then turns a small image, whose shape
// must follow (5..8 swap the sides).
#include <cstdint>
#include <cstdlib>

#include "data/exif_orientation.h"

using namespace srgan::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int o = jpeg_exif_orientation(data, size);
  if (o < 1 || o > 8) std::abort();
  Image img(3, 2, 1);
  for (size_t i = 0; i < img.size(); ++i) img.data[i] = uint8_t(i);
  const Image t = apply_orientation(img, o);
  const bool swapped = orientation_swaps_sides(o);
  if (t.width != (swapped ? 2 : 3) || t.height != (swapped ? 3 : 2)) std::abort();
  return 0;
}
