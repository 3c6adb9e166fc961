// The process-wide kernel selection.
#include "core/backend.h"

namespace srgan {
BackendConfig& backend() {
  static BackendConfig config;
  return config;
}
}  // namespace srgan
