// SPDX-License-Identifier: MIT
// Files that appear whole or not at all.
#pragma once

#include <string>

namespace acoustok::common {

// Write to "<path>.tmp-<pid>-<n>", then commit() renames it over path. A
// destroyed, uncommitted AtomicFile removes its temporary, so an interrupted
// or failed write never leaves a half file under the final name.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& path() const { return path_; }
  void commit();

 private:
  std::string path_;
  std::string temp_;
  bool committed_ = false;
};

// Whole text file written atomically.
void write_text_file(const std::string& path, const std::string& text);
// Whole file as a string; throws acoustok::Error naming the file.
std::string read_text_file(const std::string& path);

}  // namespace acoustok::common
