// JPEG decoding with libjpeg-turbo (see jpeg_decode.h). libjpeg reports errors through
// error_exit, which must not return: ours longjmps back to the setjmp in read_jpeg_header or
// decode_into, which then throw. The only object with a destructor local to those functions is
// their Decompressor, made before the setjmp, so the longjmp skips no destructor (what C++ asks
// of setjmp/longjmp); its destructor releases libjpeg's memory (jpeg_destroy_decompress).
#include "data/jpeg_decode.h"

#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which needs FILE
#include <cstring>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

#include "data/image_read_common.h"

namespace srgan::data {
namespace {

// A progressive JPEG may hold any number of scans, each a pass over the whole image: a small
// file could keep the decoder busy for minutes. Real files have about 10 (libjpeg-turbo's own
// tools offer the same kind of limit).
constexpr int kMaxScans = 500;

struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg sees only this part
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jump_out(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  std::longjmp(e->jump, 1);
}

void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  c->err->format_message(c, e->message);
  jump_out(c);
}

// Warnings (level -1) and trace messages: silent, except that the data ending early is an
// error here. libjpeg would pad the image with gray and carry on.
void on_message(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) on_error(c);
}

void on_progress(j_common_ptr c) {
  const auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > kMaxScans) {
    auto* e = reinterpret_cast<ErrorManager*>(c->err);
    std::snprintf(e->message, sizeof e->message, "more than %d progressive scans", kMaxScans);
    jump_out(c);
  }
}

// One libjpeg decompressor with our handlers. jpeg_create_decompress may itself fail (out of
// memory), so it is called after the setjmp, through create().
struct Decompressor {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  jpeg_progress_mgr progress;
  volatile bool created = false;       // volatile: read after a longjmp
  volatile bool header_read = false;   // errors before it are header errors

  Decompressor() {
    std::memset(&cinfo, 0, sizeof cinfo);
    std::memset(&err, 0, sizeof err);
    std::memset(&progress, 0, sizeof progress);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    progress.progress_monitor = on_progress;
  }
  ~Decompressor() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
  void create() {
    jpeg_create_decompress(&cinfo);
    created = true;
    cinfo.progress = &progress;
  }

  // After a longjmp: the error, in our words. A header whose sides libjpeg refuses
  // (JERR_IMAGE_TOO_BIG: over 65500) is reported against our pixel limit when it exceeds it.
  [[noreturn]] void fail(const std::string& name, int64_t max_pixels) const {
    if (err.pub.msg_code == JERR_IMAGE_TOO_BIG && !header_read)
      check_image_size(name, cinfo.image_width, cinfo.image_height, max_pixels);
    const bool in_data = header_read || err.pub.msg_code == JWRN_JPEG_EOF;  // the file ends early
    image_fail(name, std::string(in_data ? "is truncated or corrupt (" : "is not a JPEG libjpeg can read (") +
                         err.message + ")");
  }

  // After jpeg_read_header: the colour space to decode to and the channels we return, or an
  // error for colour spaces we do not read; then the pixel limit.
  int choose_output(const std::string& name, int64_t max_pixels) {
    int stored = 0;
    switch (cinfo.jpeg_color_space) {
      case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE, stored = 1; break;
      case JCS_YCbCr:
      case JCS_RGB: cinfo.out_color_space = JCS_RGB, stored = 3; break;
      case JCS_CMYK:
      case JCS_YCCK: cinfo.out_color_space = JCS_CMYK, stored = 3; break;  // libjpeg turns YCCK into CMYK
      default:
        image_fail(name, "has " + std::to_string(cinfo.num_components) + " colour components in colour space " +
                             std::to_string(int(cinfo.jpeg_color_space)) +
                             " (gray, YCbCr, RGB, CMYK and YCCK JPEGs are read)");
    }
    check_image_size(name, cinfo.image_width, cinfo.image_height, max_pixels);
    header_read = true;
    return stored;
  }
};

// One decoded row (out_components samples per pixel: 1 gray, 3 RGB, 4 CMYK) to `channels`.
// CMYK as PIL's cmyk2rgb: R = (255 - C) * (255 - K) / 255 rounded; Adobe's files (the usual
// ones) store 255 - C etc., so there R = C' * K' / 255.
void convert_row(const uint8_t* src, int in_c, bool inverted_cmyk, uint8_t* dst, int channels, int w) {
  for (int x = 0; x < w; ++x, src += in_c, dst += channels) {
    int r, g, b;
    if (in_c == 1) {
      r = g = b = src[0];
    } else if (in_c == 3) {
      r = src[0], g = src[1], b = src[2];
    } else {
      auto ink = [&](int i) { return inverted_cmyk ? src[i] : 255 - src[i]; };  // 255 - ink
      const int k = ink(3);
      r = (ink(0) * k + 127) / 255, g = (ink(1) * k + 127) / 255, b = (ink(2) * k + 127) / 255;
    }
    if (channels == 1) {
      dst[0] = in_c == 1 ? uint8_t(r) : uint8_t((r * 77 + g * 150 + b * 29) >> 8);  // stb_image's luma
    } else {
      dst[0] = uint8_t(r), dst[1] = uint8_t(g), dst[2] = uint8_t(b);
      if (channels == 4) dst[3] = 255;
    }
  }
}

// The decoding itself; `out` and `row` belong to the caller, so that no object with a destructor
// is local to this function, which holds the setjmp.
void decode_into(const uint8_t* bytes, size_t n, const std::string& name, int64_t max_pixels, int channels,
                 Image& out, std::vector<uint8_t>& row) {
  Decompressor d;
  if (setjmp(d.err.jump)) d.fail(name, max_pixels);
  d.create();
  jpeg_mem_src(&d.cinfo, bytes, static_cast<unsigned long>(n));
  jpeg_read_header(&d.cinfo, TRUE);
  const int stored = d.choose_output(name, max_pixels);
  const int c = channels == 0 ? stored : channels;
  jpeg_start_decompress(&d.cinfo);  // progressive files: reads every scan here
  const int w = int(d.cinfo.output_width), in_c = d.cinfo.output_components;
  out = Image(w, int(d.cinfo.output_height), c);
  row.resize(size_t(w) * size_t(in_c));
  const bool inverted_cmyk = d.cinfo.saw_Adobe_marker;
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    const int y = int(d.cinfo.output_scanline);
    JSAMPROW rows[1] = {row.data()};
    jpeg_read_scanlines(&d.cinfo, rows, 1);  // one row: the memory source never suspends
    convert_row(row.data(), in_c, inverted_cmyk, out.row(y), c, w);
  }
  // No jpeg_finish_decompress: every row is there; what follows the last scan is not needed.
}

}  // namespace

JpegHeader read_jpeg_header(std::FILE* f, const std::string& name, int64_t max_pixels) {
  Decompressor d;
  if (setjmp(d.err.jump)) d.fail(name, max_pixels);
  d.create();
  jpeg_stdio_src(&d.cinfo, f);
  jpeg_read_header(&d.cinfo, TRUE);
  JpegHeader h;
  h.channels = d.choose_output(name, max_pixels);
  h.width = int(d.cinfo.image_width);
  h.height = int(d.cinfo.image_height);
  return h;
}

Image decode_jpeg(const uint8_t* bytes, size_t n, const std::string& name, int64_t max_pixels, int channels) {
  Image out;
  std::vector<uint8_t> row;  // one decoded row, (width, output components)
  decode_into(bytes, n, name, max_pixels, channels, out, row);
  return out;
}

}  // namespace srgan::data
