// SPDX-License-Identifier: MIT
// Helpers shared by the test suites.
#pragma once

#include <string>
#include <vector>

namespace acoustok::test {

// Folder of the committed fixtures (ACOUSTOK_FIXTURES, set by meson).
std::string fixtures_dir();
std::string fixture(const std::string& relative);
// The built `acoustok` program (ACOUSTOK_BIN, set by meson).
std::string acoustok_bin();
// A fresh, empty folder under the system temp dir, removed at exit.
std::string make_temp_dir(const std::string& tag);
// Runs a shell command; returns its exit status and fills stdout+stderr.
int run_command(const std::string& command, std::string* output = nullptr);
std::string read_file(const std::string& path);
// Resident memory of this process (VmRSS), in kB.
long rss_kb();
// Built with AddressSanitizer (tests/asan/run.sh): freed memory waits in its
// quarantine (256 MB) before reuse, so resident memory says nothing about
// leaks there; LeakSanitizer checks those instead.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAddressSanitizer = true;
#else
constexpr bool kUnderAddressSanitizer = false;
#endif

}  // namespace acoustok::test
