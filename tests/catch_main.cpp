// The one main() for every test executable, for Catch2 2.x and 3.x alike. Built with
// SRGAN_TEST_NEEDS_CUDA it first looks for a CUDA device and, finding none, exits with 77 so
// ctest reports the test as skipped (never passed); listing tests still works without a GPU.
#if __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <cstdio>
#include <cstring>

#ifdef SRGAN_TEST_NEEDS_CUDA
#include <cuda_runtime.h>
static bool cuda_device_present() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}
#endif

int main(int argc, char** argv) {
#ifdef SRGAN_TEST_NEEDS_CUDA
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--list", 6) == 0) listing = true;
  if (!listing && !cuda_device_present()) {
    std::printf("SKIPPED: no CUDA device present, CUDA test not run\n");
    return 77;
  }
#endif
  return Catch::Session().run(argc, argv);
}
