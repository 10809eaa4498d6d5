// The watchdog: one thread that ends runs which exceed their wall-clock `timeout` or their
// CPU-clock `cpuTimeout`. A TimedRun arms it for the length of one call into an isolate.
//
// When a limit fires, the watchdog first asks the isolate (RequestInterrupt) to record its
// current JavaScript stack and terminate itself; if the isolate does not reach an interrupt
// check within a short grace (a long builtin), it calls TerminateExecution anyway.
//
// The watchdog is also the machine-stall detector. On a virtual machine the whole guest can be
// stopped by the host for tens of milliseconds without the guest seeing steal time; a thread
// that was running then has the stop added to its CPU clock, which would cut a tenant for CPU
// it never used. While runs are armed the watchdog wakes every few milliseconds; a wake-up
// later than planned that the kernel's run-queue wait does not explain is a stop. Each stop
// credits the threads that were running armed runs through it (at most what their CPU clock
// advanced meanwhile): CPU limits and the isolate's CPU accounting subtract those credits.
#pragma once

#include <pthread.h>
#include <time.h>

#include "isolate/environment.h"

namespace islet {

enum class TimerKind { None = 0, Wall = 1, Cpu = 2 };

struct ThreadClock;

class TimedRun {
 public:
  // wall_ms / cpu_ms: 0 for no limit. Must be created on the thread that executes the isolate.
  TimedRun(IsolateEnvironment& env, double wall_ms, double cpu_ms);
  ~TimedRun();
  // Stops the timers (idempotent); returns which fired, if any. Cancels a termination it caused.
  // A long run whose watchdog is overdue first waits (briefly) for the watchdog's next pass, so
  // that a machine stop that just ended is credited before the caller accounts the run's CPU.
  TimerKind Finish();

 private:
  IsolateEnvironment& env_;
  ThreadClock* thread_ = nullptr;
  uint64_t id_ = 0;
  uint64_t token_ = 0;
  uint64_t previous_token_ = 0;
  uint64_t previous_deadline_ns_ = 0;
  uint64_t armed_wall_ns_ = 0;
  uint64_t armed_cpu_ns_ = 0;
  bool finished_ = true;
  TimerKind fired_ = TimerKind::None;
};

// CPU time the watchdog has credited to the calling thread so far, for machine stops it found
// while this thread was running an armed run (monotonic; compare two readings).
uint64_t ThreadStallCreditNs();

// Process-wide totals of the stall ledger.
struct StallLedger {
  bool detecting = false;    // false when the kernel offers no per-thread run-queue wait
  uint64_t count = 0;        // stops detected
  uint64_t total_ns = 0;     // their summed length, as seen by the watchdog
  uint64_t credited_ns = 0;  // CPU time given back to threads that were charged for them
};
StallLedger ReadStallLedger();

// Adds `machineStalls()` to the addon's exports.
void ExportMachineStalls(Isolate* isolate, Local<Context> context, Local<Object> exports);

}  // namespace islet
