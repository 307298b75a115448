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

// One run at a time per resumable output folder: an exclusive flock(2) on
// DIR/.acoustok.lock, held for the life of the object, the holder's PID and
// command written inside. A second run on the same folder fails at once
// (acoustok::Error naming the folder and the holder's PID) instead of both
// writing the same checkpoint. The kernel drops the lock when its holder
// dies, so the file a killed run leaves behind is simply taken over; a run
// that ends removes it.
class DirLock {
 public:
  // `command` names the run in the file and in the message of the run it
  // stops ("units", "vocoder train"...). DIR must exist.
  DirLock(const std::string& dir, const std::string& command);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  // Whether the previous holder ended without releasing the lock (killed).
  bool took_over_stale() const { return stale_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool stale_ = false;
};

}  // namespace acoustok::common
