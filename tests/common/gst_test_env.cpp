// SPDX-License-Identifier: MIT
// Linked into every GStreamer suite: initialises GStreamer once before the
// tests run (the plugins come from GST_PLUGIN_PATH, set by meson).
#include <gst/gst.h>
#include <gtest/gtest.h>

namespace {

class GstEnv : public ::testing::Environment {
 public:
  void SetUp() override { gst_init(nullptr, nullptr); }
};

const auto* const gst_env = ::testing::AddGlobalTestEnvironment(new GstEnv);

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer (tests/asan/run.sh): GLib has no frame pointers, so
// only ASan's slow unwinder gives its allocations the whole stacks that the
// suppression of its pre-main block (lsan.supp) needs. Asked for here, by
// the processes that host GLib, rather than in ASAN_OPTIONS: the acoustok
// commands these tests start would inherit it from the environment, and it
// costs every allocation ~50 us (LibTorch's start alone has tens of
// thousands); they keep the fast one and suppress GLib's block by library.
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "fast_unwind_on_malloc=0";
}
#endif
