// The watchdog: one thread that ends runs which exceed their wall-clock `timeout` or their
// CPU-clock `cpuTimeout`. A TimedRun arms it for the length of one call into an isolate.
//
// When a limit fires, the watchdog first asks the isolate (RequestInterrupt) to record its
// current JavaScript stack and terminate itself; if the isolate does not reach an interrupt
// check within a short grace (a long builtin), it calls TerminateExecution anyway.
#pragma once

#include <pthread.h>
#include <time.h>

#include "environment.h"

namespace islet {

enum class TimerKind { None = 0, Wall = 1, Cpu = 2 };

class TimedRun {
 public:
  // wall_ms / cpu_ms: 0 for no limit. Must be created on the thread that executes the isolate.
  TimedRun(IsolateEnvironment& env, double wall_ms, double cpu_ms);
  ~TimedRun();
  // Stops the timers (idempotent); returns which fired, if any. Cancels a termination it caused.
  TimerKind Finish();

 private:
  IsolateEnvironment& env_;
  uint64_t id_ = 0;
  uint64_t token_ = 0;
  uint64_t previous_token_ = 0;
  bool finished_ = true;
  TimerKind fired_ = TimerKind::None;
};

}  // namespace islet
