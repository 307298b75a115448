// SPDX-License-Identifier: MIT
#pragma once

namespace acoustok::tools {

// Makes OpenMP's threads wait passively in this program, unless the
// environment already chooses (OMP_WAIT_POLICY, or libgomp's GOMP_SPINCOUNT):
// sets OMP_WAIT_POLICY=passive and starts the program again with the same
// arguments. Call it first thing in main(); it returns when nothing was to be
// done or the restart failed (the run then goes on with the runtime's default).
void use_passive_openmp_wait(char** argv);

}  // namespace acoustok::tools
