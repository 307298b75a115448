// SPDX-License-Identifier: MIT
// safetensors and .npy: round trips, NumPy interop, and hostile files.
#include <gtest/gtest.h>

#include <fstream>

#include "acoustok/error.hpp"
#include "acoustok/tensor_file.hpp"
#include "test_util.hpp"

using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

TEST(TensorFile, SafetensorsRoundTripWithMetadata) {
  const std::string dir = make_temp_dir("st");
  std::vector<acoustok::NamedTensor> ts = {{"centroids", {2, 3}, {1, 2, 3, 4, 5, 6}},
                                           {"bias", {3}, {0.5f, -1, 2}}};
  acoustok::write_safetensors(dir + "/m.safetensors", ts, {{"k", "2"}});
  acoustok::SafetensorsFile f(dir + "/m.safetensors");
  EXPECT_EQ(f.metadata().at("k"), "2");
  EXPECT_EQ(f.at("centroids").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.float32("bias"), (std::vector<float>{0.5f, -1, 2}));
  EXPECT_THROW(f.at("nope"), acoustok::Error);
}

TEST(TensorFile, HostileSafetensorsAreErrorsNotCrashes) {
  const std::string dir = make_temp_dir("st-bad");
  std::vector<acoustok::NamedTensor> ts = {{"w", {4, 4}, std::vector<float>(16, 1.0f)}};
  acoustok::write_safetensors(dir + "/ok.safetensors", ts);
  const std::string good = acoustok::test::read_file(dir + "/ok.safetensors");
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return dir + "/" + name;
  };
  auto expect_error = [](const std::string& path, const std::string& words) {
    try {
      acoustok::SafetensorsFile f(path);
      ADD_FAILURE() << "accepted " << path;
    } catch (const acoustok::Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_error(write("truncated.safetensors", good.substr(0, good.size() - 10)), "outside the file");
  expect_error(write("short.safetensors", "abc"), "too short");
  std::string huge = good;
  huge[7] = '\x7f';
  expect_error(write("huge.safetensors", huge), "header length");
  std::string bad_json = good;
  bad_json[8] = '[';
  expect_error(write("json.safetensors", bad_json), "header");
  std::string shape = good;
  shape.replace(shape.find("[4,4]"), 5, "[4,5]");
  expect_error(write("shape.safetensors", shape), "byte count");
}

TEST(TensorFile, NpyInteropWithNumpy) {
  const std::string dir = make_temp_dir("npy");
  const std::vector<float> v = {1.5f, -2, 3, 4, 5, 6};
  acoustok::write_npy(dir + "/a.npy", v.data(), {2, 3});
  acoustok::write_npy(dir + "/b.npy", v.data(), {6});
  std::string out;
  ASSERT_EQ(
      run_command("/usr/bin/python3 -c \"import numpy as np; a=np.load('" + dir + "/a.npy'); b=np.load('" +
                      dir + "/b.npy'); print(a.shape, b.shape, a.dtype, a[0,0]); np.save('" + dir +
                      "/c.npy', a.astype(np.float16)); np.save('" + dir + "/d.npy', a.astype(np.float64))\"",
                  &out),
      0)
      << out;
  EXPECT_NE(out.find("(2, 3) (6,) float32 1.5"), std::string::npos) << out;
  for (const char* name : {"/c.npy", "/d.npy"}) {
    const auto arr = acoustok::read_npy(dir + name);
    EXPECT_EQ(arr.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(arr.values, v);
  }
  const std::string bytes = acoustok::test::read_file(dir + "/a.npy");
  std::ofstream(dir + "/t.npy", std::ios::binary) << bytes.substr(0, bytes.size() - 4);
  EXPECT_THROW(acoustok::read_npy(dir + "/t.npy"), acoustok::Error);
}

TEST(TensorFile, HalfConversionsAreExact) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f}) {
    EXPECT_EQ(acoustok::half_to_float(acoustok::float_to_half(f)), f) << f;
  }
  EXPECT_EQ(acoustok::bfloat16_to_float(0x3f80), 1.0f);
}

// Issue 14: a 192-byte .npy whose header claims a billion floats is refused
// before anything is allocated (it used to reserve 4 GB first).
TEST(TensorFile, NpyHeaderLargerThanTheFileIsRefusedBeforeAllocating) {
  const std::string dir = make_temp_dir("npybig");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1), }";
  header.resize(117, ' ');
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header + std::string(16, '\0');
  std::ofstream(dir + "/big.npy", std::ios::binary) << file;
  try {
    acoustok::read_npy(dir + "/big.npy");
    ADD_FAILURE() << "no error";
  } catch (const acoustok::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir + "/big.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("announces 4000000000 bytes"), std::string::npos) << msg;
  }
}

// Issue 14: offsets that make tensors read each other's bytes, leave bytes
// between them or twice name a tensor are refused, as Python's reader does.
TEST(TensorFile, SafetensorsOffsetsMustTileTheDataOnce) {
  const std::string dir = make_temp_dir("st-tile");
  auto file_with = [&](const std::string& name, const std::string& header, size_t data_bytes) {
    std::string h = header;
    while ((8 + h.size()) % 8) h += ' ';
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
    bytes += h + std::string(data_bytes, '\0');
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return dir + "/" + name;
  };
  auto error_of = [](const std::string& path) -> std::string {
    try {
      acoustok::SafetensorsFile f(path);
    } catch (const acoustok::Error& e) {
      return e.what();
    }
    return "";
  };
  const std::string ok = file_with(
      "ok.st",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
      16);
  EXPECT_EQ(error_of(ok), "");
  const std::string overlap = file_with(
      "overlap.st",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      16);
  EXPECT_NE(error_of(overlap).find("tensors overlap"), std::string::npos) << error_of(overlap);
  const std::string gap = file_with(
      "gap.st",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
      20);
  EXPECT_NE(error_of(gap).find("a gap precedes it"), std::string::npos) << error_of(gap);
  const std::string tail =
      file_with("tail.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 16);
  EXPECT_NE(error_of(tail).find("belong to no tensor"), std::string::npos) << error_of(tail);
  const std::string twice = file_with(
      "twice.st",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
      16);
  EXPECT_NE(error_of(twice).find("names tensor 'a' twice"), std::string::npos) << error_of(twice);
  EXPECT_NE(error_of(twice).find(twice), std::string::npos);
}

// Rows written piece by piece give write_npy's bytes once committed; before
// that, nothing is at the final name.
TEST(Npy, RowWriterEqualsWriteNpy) {
  const std::string dir = acoustok::test::make_temp_dir("npy-rows");
  std::vector<float> v(7 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.25f * static_cast<float>(i) - 3;
  for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{7}}) {
    const std::string path = dir + "/r" + std::to_string(rows) + ".npy", ref = dir + "/ref.npy";
    acoustok::write_npy(ref, v.data(), {rows, 5});
    {
      acoustok::NpyRowWriter w(path, 5);
      for (int64_t r = 0; r < rows; r += 3) w.write(v.data() + r * 5, std::min<int64_t>(3, rows - r));
      EXPECT_FALSE(std::ifstream(path).good());
      w.commit();
    }
    EXPECT_EQ(acoustok::test::read_file(path), acoustok::test::read_file(ref)) << rows;
  }
  {  // Abandoned: no file, no temporary.
    acoustok::NpyRowWriter w(dir + "/gone.npy", 5);
    w.write(v.data(), 2);
  }
  EXPECT_FALSE(std::ifstream(dir + "/gone.npy").good());
}
