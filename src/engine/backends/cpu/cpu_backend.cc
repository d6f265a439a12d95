// Placeholder until the oneDNN backend lands: compiles like the reference backend.
#include "engine/backends/cpu/cpu_backend.h"

#include "engine/backends/reference/reference_backend.h"

namespace medinfer::engine {

std::unique_ptr<Backend> make_cpu_backend() {
  return make_reference_backend();
}

}  // namespace medinfer::engine
