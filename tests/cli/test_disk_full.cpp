// SPDX-License-Identifier: MIT
// A full disk (issue 14): every subcommand writing onto a full filesystem
// (a tmpfs this test mounts and fills) exits 1 with one line naming the file,
// never a crash or an abort (vocoder train aborted in LibTorch's zip writer),
// and leaves nothing behind: no output under its final name, no temporary
// file, no segment of a failed input.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace fs = std::filesystem;
using acoustok::test::acoustok_bin;
using acoustok::test::fixture;
using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

namespace {

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = make_temp_dir("diskfull");
    full_ = work_ + "/full";
    fs::create_directories(full_);
    if (::mount("tmpfs", full_.c_str(), "tmpfs", 0, "size=256k") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                   << "): needs root with CAP_SYS_ADMIN";
    }
    mounted_ = true;
    for (const char* d : {"segments", "units", "bpe", "vocoder", "vtest"})
      fs::create_directories(full_ + "/" + d);
    // Fill it to the last byte.
    std::ofstream filler(full_ + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  void TearDown() override {
    if (mounted_) ::umount2(full_.c_str(), MNT_DETACH);
  }
  // Runs `args`, expects exit 1 with an acoustok: line naming `names`, and
  // nothing new on the full filesystem.
  void expect_clean_failure(const std::string& args, const std::string& names) {
    std::string out;
    const int rc = run_command(acoustok_bin() + " " + args, &out);
    EXPECT_EQ(rc, 1) << args << "\n" << out;
    EXPECT_NE(out.find("acoustok: "), std::string::npos) << out;
    EXPECT_NE(out.find(names), std::string::npos) << args << "\n" << out;
    std::vector<std::string> left;
    for (const auto& e : fs::recursive_directory_iterator(full_)) {
      // units/cache/ is the resume state of `units` (rows past its
      // checkpoint are ignored on resume), not an output.
      if (e.path().string().find("/units/cache/") != std::string::npos) continue;
      if (e.is_regular_file() && e.path().filename() != "filler") left.push_back(e.path().string());
    }
    EXPECT_TRUE(left.empty()) << args << " left " << left.size() << " files, first "
                              << (left.empty() ? "" : left[0]);
  }
  std::string work_, full_;
  bool mounted_ = false;
};

}  // namespace

TEST_F(DiskFull, EverySubcommandFailsCleanly) {
  const std::string speech = fixture("xlsr/speech_pt.wav"), model = fixture("xlsr/xlsr_st");
  // Inputs, made on the normal disk first.
  std::string out;
  ASSERT_EQ(run_command(acoustok_bin() + " features -q --model " + model + " --layer 2 " + speech + " -o " +
                            work_ + "/f.npy",
                        &out),
            0)
      << out;
  ASSERT_EQ(
      run_command(acoustok_bin() + " kmeans fit -q " + work_ + "/f.npy --k 8 -o " + work_ + "/km.safetensors",
                  &out),
      0)
      << out;
  fs::create_directories(work_ + "/feat");
  fs::copy_file(work_ + "/f.npy", work_ + "/feat/speech_pt.npy");
  fs::create_directories(work_ + "/segs");
  fs::copy_file(speech, work_ + "/segs/speech_pt.wav");
  std::ofstream(work_ + "/u.txt") << "1 2 3 4 5 6 7 8 9 10 11 12\n3 4 5 6 7\n";

  expect_clean_failure("segment " + speech + " -o " + full_ + "/segments", full_ + "/segments");
  expect_clean_failure("features --model " + model + " --layer 2 " + speech + " -o " + full_ + "/f.npy",
                       full_ + "/f.npy");
  expect_clean_failure("kmeans fit " + work_ + "/f.npy --k 8 -o " + full_ + "/km.safetensors",
                       full_ + "/km.safetensors");
  expect_clean_failure(
      "kmeans predict " + work_ + "/km.safetensors " + work_ + "/f.npy -o " + full_ + "/u.txt",
      full_ + "/u.txt");
  expect_clean_failure("units --features " + work_ + "/feat --k 4 " + work_ + "/segs -o " + full_ + "/units",
                       full_ + "/units");
  expect_clean_failure("bpe " + fixture("bpe/tiny.txt") + " -o " + full_ + "/bpe", full_ + "/bpe");
  expect_clean_failure(
      "vocoder train --config tiny --epochs 1 --samples-per-epoch 4 --batch-size 2 --units " +
          fixture("vocoder/units") + " --audio " + fixture("vocoder/segments") + " -o " + full_ + "/vocoder",
      full_ + "/vocoder");
}
