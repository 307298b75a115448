// SPDX-License-Identifier: MIT
// The pytorch_model.bin reader (zip + safe unpickler) against pickles made
// to hurt it (issue 14): each is an error naming the file, never a crash, a
// hang or gigabytes of memory. The files are written here by Python's
// zipfile, as torch.save lays them out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "features/torch_zip.hpp"
#include "test_util.hpp"

using acoustok::test::make_temp_dir;
using acoustok::test::run_command;

namespace {

// Writes DIR/NAME.bin: a zip holding archive/data.pkl made by the Python
// expression `pickle_expr` (bytes), and returns its path.
std::string write_bin(const std::string& dir, const std::string& name, const std::string& pickle_expr) {
  const std::string path = dir + "/" + name + ".bin";
  const std::string script = dir + "/" + name + ".py";
  const std::string code =
      "import struct, zipfile\n"
      "def le4(i): return struct.pack('<I', i)\n"
      "data = " + pickle_expr + "\n"
      "with zipfile.ZipFile('" + path + "', 'w') as z:\n"
      "    z.writestr('archive/data.pkl', data)\n"
      "    z.writestr('archive/byteorder', 'little')\n";
  FILE* f = std::fopen(script.c_str(), "w");
  std::fputs(code.c_str(), f);
  std::fclose(f);
  std::string out;
  EXPECT_EQ(run_command("/usr/bin/python3 " + script, &out), 0) << out;
  return path;
}

std::string error_of(const std::string& path) {
  try {
    acoustok::features::TorchZipWeights w(path);
  } catch (const acoustok::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// A chain of lists 500 000 deep, each referenced only by its parent: every
// level appends a new list to the current one, then wraps the current one in
// a persistent id that BINPERSID consumes and the memo forgets it. Freeing
// such a chain recursively overflowed the stack (rc 139); now the objects live
// in an arena and the object budget ends the pickle first.
TEST(TorchZipHostile, ChainsOfListsDoNotOverflowTheStack) {
  const std::string dir = make_temp_dir("pkl-deep");
  const std::string path = write_bin(dir, "deep",
      "(lambda s: b'\\x80\\x02]q\\x00' + (b'(' + s(b'storage') + b'ctorch\\nFloatStorage\\n' + s(b'k') + "
      "b'h\\x00]q\\x00aK\\x00tQ') * 500000 + b'.')(lambda x: b'X' + le4(len(x)) + x)");
  const std::string e = error_of(path);
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("data.pkl"), std::string::npos) << e;
}

// A flood of APPENDs (quadratic before) and of NONE (2.4 GB from 8 MB before):
// bounded by the object budget.
TEST(TorchZipHostile, FloodsOfObjectsAreRefusedByTheObjectBudget) {
  const std::string dir = make_temp_dir("pkl-flood");
  for (const auto& [name, expr] : {std::pair<std::string, std::string>{"appends", "b'\\x80\\x02]' + b'Na' * 2000000 + b'.'"},
                                   {"nones", "b'\\x80\\x02' + b'N' * 8000000 + b'.'"},
                                   {"marks", "b'\\x80\\x02' + b'(' * 8000000 + b'.'"}}) {
    const std::string path = write_bin(dir, name, expr);
    const std::string e = error_of(path);
    EXPECT_NE(e.find(path), std::string::npos) << name << ": " << e;
    EXPECT_NE(e.find("more than 1048576 objects"), std::string::npos) << name << ": " << e;
  }
}

// Bytes flipped inside data.pkl (a key renamed) and a local header that names
// another entry than the central directory: Python's zipfile refuses both,
// and so do we.
TEST(TorchZipHostile, CorruptDataPklAndMismatchedLocalHeadersAreRefused) {
  const std::string dir = make_temp_dir("pkl-crc");
  const std::string good = write_bin(dir, "good", "__import__('pickle').dumps({'weight_name': 1}, protocol=2)");
  EXPECT_EQ(error_of(good), "");  // a plain dict without tensors loads
  std::string out;
  const std::string patch = "/usr/bin/python3 -c \"import sys; p, a, b = sys.argv[1:]; d = open(p, 'rb').read(); "
                            "open(p, 'wb').write(d.replace(a.encode(), b.encode(), 1))\" ";
  ASSERT_EQ(run_command("cp " + good + " " + dir + "/flipped.bin && " + patch + dir + "/flipped.bin weight_name weight_nbme", &out), 0) << out;
  std::string e = error_of(dir + "/flipped.bin");
  EXPECT_NE(e.find("CRC-32"), std::string::npos) << e;
  ASSERT_EQ(run_command("cp " + good + " " + dir + "/renamed.bin && " + patch + dir + "/renamed.bin archive/data.pkl archive/data.pkx", &out), 0) << out;
  e = error_of(dir + "/renamed.bin");
  EXPECT_NE(e.find("local header names another entry"), std::string::npos) << e;
}

// A tensor's storage read back exactly (1.2 MB of float32), and the same
// file with one byte of that storage changed: refused by its CRC-32, naming
// the tensor (the pickle is intact, so only the storage's check can catch it).
TEST(TorchZipHostile, StorageBytesAreCheckedByTheirCrc) {
  const std::string dir = make_temp_dir("storage-crc");
  const std::string good = dir + "/good.bin", bad = dir + "/bad.bin";
  constexpr int64_t kCount = 300001;
  std::string out;
  ASSERT_EQ(run_command("/usr/bin/python3 -c \"import struct, sys, torch; "
                        "torch.save({'w': torch.arange(" + std::to_string(kCount) + ", dtype=torch.float32)}, sys.argv[1]); "
                        "d = open(sys.argv[1], 'rb').read(); v = struct.pack('<f', 123456.0); "
                        "assert d.count(v) == 1; open(sys.argv[2], 'wb').write(d.replace(v, struct.pack('<f', 123457.0)))\" " +
                            good + " " + bad,
                        &out),
            0)
      << out;
  {
    acoustok::features::TorchZipWeights w(good);
    std::vector<float> v(kCount);
    w.read_float32_into("w", v.data());
    for (int64_t i = 0; i < kCount; i += 997) ASSERT_EQ(v[static_cast<size_t>(i)], static_cast<float>(i)) << i;
    EXPECT_EQ(v.back(), static_cast<float>(kCount - 1));
  }
  acoustok::features::TorchZipWeights w(bad);  // the pickle is intact: only reading the storage fails
  std::vector<float> v(kCount);
  try {
    w.read_float32_into("w", v.data());
    ADD_FAILURE() << "a changed storage byte was not noticed";
  } catch (const acoustok::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(bad), std::string::npos) << m;
    EXPECT_NE(m.find("tensor 'w'"), std::string::npos) << m;
    EXPECT_NE(m.find("fails its CRC-32 check"), std::string::npos) << m;
  }
}
