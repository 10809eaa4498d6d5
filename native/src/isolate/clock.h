// IsolateClock: the CPU and wall time an isolate has been entered, readable from any thread
// while another runs it (isolate.cpuTime / wallTime include the span in progress). One thread
// writes at a time (the one holding the isolate), readers never block it: a sequence lock, so
// that entering an isolate costs two atomic stores rather than a mutex.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

namespace islet {

class IsolateClock {
 public:
  // Writer side (the thread holding the isolate). `wall_now`: also start a wall span (0: no).
  void Start(clockid_t cpu_clock, uint64_t cpu_now, uint64_t wall_now) {
    Write([&] {
      cpu_clock_.store(int(cpu_clock), std::memory_order_relaxed);
      cpu_live_start_.store(cpu_now, std::memory_order_relaxed);
      if (wall_now) wall_live_start_.store(wall_now, std::memory_order_relaxed);
    });
  }
  // Ends the CPU span (charging `cpu_ns`) and, when `end_wall`, the wall span (`wall_ns`).
  void Stop(uint64_t cpu_ns, uint64_t wall_ns, bool end_wall) {
    Write([&] {
      cpu_live_start_.store(0, std::memory_order_relaxed);
      cpu_ns_.store(cpu_ns_.load(std::memory_order_relaxed) + cpu_ns, std::memory_order_relaxed);
      if (end_wall) {
        wall_live_start_.store(0, std::memory_order_relaxed);
        wall_ns_.store(wall_ns_.load(std::memory_order_relaxed) + wall_ns, std::memory_order_relaxed);
      }
    });
  }

  // Reader side (any thread); `wall_now` is the steady clock in ns.
  uint64_t CpuNs() const {
    uint64_t total, start;
    int clock;
    Read([&] {
      total = cpu_ns_.load(std::memory_order_relaxed);
      start = cpu_live_start_.load(std::memory_order_relaxed);
      clock = cpu_clock_.load(std::memory_order_relaxed);
    });
    timespec ts;
    if (start && clock_gettime(clockid_t(clock), &ts) == 0) {
      uint64_t now = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
      if (now > start) total += now - start;
    }
    return total;
  }
  uint64_t WallNs(uint64_t wall_now) const {
    uint64_t total, start;
    Read([&] {
      total = wall_ns_.load(std::memory_order_relaxed);
      start = wall_live_start_.load(std::memory_order_relaxed);
    });
    return start && wall_now > start ? total + (wall_now - start) : total;
  }

 private:
  template <typename Body>
  void Write(Body body) {
    uint32_t seq = seq_.load(std::memory_order_relaxed);
    seq_.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    body();
    seq_.store(seq + 2, std::memory_order_release);
  }
  template <typename Body>
  void Read(Body body) const {
    for (;;) {
      uint32_t before = seq_.load(std::memory_order_acquire);
      if (before & 1) continue;
      body();
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == before) return;
    }
  }

  std::atomic<uint32_t> seq_{0};
  std::atomic<uint64_t> cpu_ns_{0};
  std::atomic<uint64_t> wall_ns_{0};
  std::atomic<int> cpu_clock_{0};
  std::atomic<uint64_t> cpu_live_start_{0};   // 0: not running
  std::atomic<uint64_t> wall_live_start_{0};  // 0: not entered
};

}  // namespace islet
