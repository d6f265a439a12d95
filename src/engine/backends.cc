// The one list of backends (STYLE 7).
#include "engine/backend.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/reference/reference_backend.h"

namespace medinfer::engine {

std::vector<std::string> backend_names() {
  return {"reference", "cpu"};
}

Result<std::unique_ptr<Backend>> make_backend(const std::string& name) {
  if (name == "reference") return make_reference_backend();
  if (name == "cpu") return make_cpu_backend();
  return invalid_argument("unknown backend '" + name + "' (have: reference, cpu)");
}

}  // namespace medinfer::engine
