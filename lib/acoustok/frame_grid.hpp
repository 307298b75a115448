// SPDX-License-Identifier: MIT
// The one time grid of acoustok: 16 kHz mono audio, and feature / unit frames
// every 320 samples (20 ms, 50 per second), each seeing 400 samples (25 ms).
// Frame i covers samples [320 i, 320 i + 400) and is stamped start + 0.02 i s.
// The command line, the trainers, the features and every element take these
// numbers from here.
#pragma once

#include <cstdint>

namespace acoustok::grid {

constexpr int kSampleRate = 16000;              // Hz, of every signal acoustok reads or writes
constexpr int kHop = 320;                       // samples between frames
constexpr int kReceptiveField = 400;            // samples one frame sees
constexpr int kFrameRate = kSampleRate / kHop;  // 50 frames per second
constexpr double kFrameSeconds = static_cast<double>(kHop) / kSampleRate;   // 0.02 s
constexpr uint64_t kFrameNanoseconds = 1000000000ull * kHop / kSampleRate;  // 20 ms
// The longest duration a parameter takes (silence lengths, windows, command
// line durations): an hour, so that no duration can size a buffer past it.
constexpr double kMaxDurationSeconds = 3600;

// floor((n - 400) / 320) + 1 frames for n samples, 0 when n < 400.
constexpr int64_t frames_for_samples(int64_t samples) {
  return samples < kReceptiveField ? 0 : (samples - kReceptiveField) / kHop + 1;
}

}  // namespace acoustok::grid
