// The stb_image implementation, compiled here ONLY when CMake's SRGAN_STB_DIR
// points at carried headers (a machine without Debian's libstb). With Debian's libstb-dev this
// file compiles to nothing and the library comes from -lstb. No stb source lives in this repo.
#ifdef SRGAN_COMPILE_STB
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#endif
