// SPDX-License-Identifier: MIT
// The k-means code's one way to spread work over threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace acoustok::units {

// fn(task) for task in [0, tasks) on up to `threads` threads.
template <typename Fn>
void parallel_for(int64_t tasks, int threads, Fn fn) {
  const int t = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, tasks)));
  if (t == 1) {
    for (int64_t i = 0; i < tasks; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  auto worker = [&]() {
    for (int64_t i = next++; i < tasks; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < t; ++i) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
}

}  // namespace acoustok::units
