// `segment` runs decode and write threads next to oneDNN's OpenMP team. Under libgomp's
// default wait policy, idle team threads spin at every barrier between primitives and take
// the cores the other pipeline stages need: on the 2-core machine the 20-study CPU run took
// 1.17x as long as with OMP_WAIT_POLICY=passive (docs/BENCHMARKS.md, pipeline section).
// libgomp reads the policy once, when it is loaded (before main), so the only way to set it
// for this process is to run it again: prefer_passive_openmp() re-executes the program once
// with OMP_WAIT_POLICY=passive, unless the user set OMP_WAIT_POLICY (theirs is kept) or this
// is already the re-executed process. If the re-execution fails, it returns and the run
// goes on as it is.
#pragma once

namespace medinfer::cli {

void prefer_passive_openmp(char** argv);

}  // namespace medinfer::cli
