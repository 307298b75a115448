// SPDX-License-Identifier: MIT
// Where libacoustok's messages go. Nothing in the library writes to stdout or
// stderr itself: warnings, notes and progress lines all reach one callback,
// which by default prints them on stderr (progress lines redrawn in place on
// a terminal). An embedder installs its own to route them to its log, or a
// callback that does nothing to silence them.
//
// Thread-safety: set_log_callback may be called at any time from any thread;
// the callback itself may be called from any thread, one call at a time (a
// lock is held meanwhile: the callback must not call set_log_callback).
#pragma once

namespace acoustok {

enum class LogLevel {
  error,     // a failure that is also reported by an exception or a status
  warning,   // the run goes on, but the user should know (e.g. a vocabulary lowered)
  info,      // what a run is doing (resuming, skipping, epoch summaries)
  progress,  // a progress line with an ETA; the next one replaces it
};

// `message` is one line without its newline; valid during the call only.
using LogCallback = void (*)(LogLevel level, const char* message, void* user_data);

// nullptr restores the default (stderr).
void set_log_callback(LogCallback callback, void* user_data = nullptr);

}  // namespace acoustok
