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
