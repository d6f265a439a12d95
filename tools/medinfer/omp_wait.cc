// prefer_passive_openmp (omp_wait.h).
#include "omp_wait.h"

#include <unistd.h>

#include <cstdlib>

namespace medinfer::cli {

void prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;  // the user's choice, or done
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Still here: no re-execution (no /proc?). The run goes on with libgomp's default.
}

}  // namespace medinfer::cli
