#pragma once

// libgomp reads its environment once, when the library is loaded, so a program cannot change
// how its own worker threads wait after start. By default they spin for a while after each
// parallel region; on a 2-core machine shared with other work that spinning takes a core
// from whoever needs it (measured: a micro-model window took 3.1 s instead of 84 ms under a
// load of 6; see docs/performance.md). Unless the user chose a policy,
// re-executing ourselves once with OMP_WAIT_POLICY=passive (threads sleep at once) fixes it
// for the whole process; an explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT is left alone.

#include <unistd.h>

#include <cstdlib>

namespace earshot::cli {

inline void reexec_with_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) {
    return;
  }
  if (::setenv("OMP_WAIT_POLICY", "passive", 1) != 0) {
    return;
  }
  ::execv("/proc/self/exe", argv);
  // execv only returns on failure: carry on with the default policy.
}

}  // namespace earshot::cli
