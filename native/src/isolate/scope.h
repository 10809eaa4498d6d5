// ExecScope: the one way into an isolate. Construction takes ownership of the isolate (waiting
// for another thread to finish with it; Node's thread keeps serving blocking requests while it
// waits so a pool thread calling back into Node cannot deadlock it), locks it, enters it,
// opens a HandleScope and starts the CPU and wall clocks. It throws ERR_ISOLATE_DISPOSED
// instead when the isolate is torn down, and tears down a disposed isolate it finds idle.
// Destruction stops and accounts the clocks, runs V8's foreground tasks, leaves, unlocks, and
// tears the isolate down if disposal was requested meanwhile.
//
// Time: wall time is counted once per outermost entry (a re-entry through a host callback is
// inside it); CPU time is counted per span on the thread's CPU clock, paused while the thread
// runs another isolate, less the machine stops the watchdog credited to the thread meanwhile
// (see watchdog.h). The span in progress is visible to cpuTime/wallTime readers. A nested scope
// of Node's isolate (a host callback the isolate made) does not pause it: the callback's time is
// the isolate's.
#pragma once

#include <time.h>

#include <optional>

#include "isolate/environment.h"

namespace islet {

uint64_t ThreadCpuNs();
uint64_t WallNs();

class ExecScope {
 public:
  explicit ExecScope(IsolateEnvironment& env);
  ~ExecScope();
  ExecScope(const ExecScope&) = delete;
  ExecScope& operator=(const ExecScope&) = delete;

  // True for the first scope of this isolate on this thread (microtasks are drained there).
  bool outermost() const { return outermost_; }
  IsolateEnvironment& env() const { return env_; }
  // The thread's CPU clock when this scope last started (or resumed) counting; 0 for Node's isolate.
  uint64_t cpu_start() const { return cpu_start_; }
  static ExecScope* Current();

 private:
  void Acquire();
  void Release();
  void StartSpan();
  // The CPU to charge for the span now ending (`now`: the wall clock).
  uint64_t EndSpan(bool final, uint64_t now);
  void PauseCpu();
  void ResumeCpu();

  IsolateEnvironment& env_;
  ExecScope* outer_;
  bool outermost_ = false;
  bool same_as_outer_ = false;
  bool accounted_ = false;  // this scope counts CPU spans (non-default, not nested in itself)
  std::optional<v8::Locker> locker_;
  std::optional<Isolate::Scope> isolate_scope_;
  std::optional<HandleScope> handle_scope_;
  uint64_t cpu_start_ = 0;
  uint64_t credit_start_ = 0;  // the watchdog's stall credit to this thread, as for the CPU clock
  uint64_t span_wall_start_ = 0;
  uint64_t wall_start_ = 0;
  bool paused_ = false;  // a nested scope of another isolate is running inside this one
  int pause_depth_ = 0;  // nested pauses in progress (one reaches here through each callback level)
};

// The pool of threads running queued work of non-default isolates.
class Scheduler {
 public:
  static std::mutex& Mutex();
  static std::condition_variable& OwnershipChanged();
  // Makes sure a pool thread will drain `env`'s queue (scheduler mutex held).
  static void Schedule(const EnvPtr& env);
  // The process is exiting: pool threads finish the task in hand and take no more.
  static void Freeze();
  static bool Frozen();
  // The calling pool thread will never come back (V8 ran out of memory on it).
  static void ThreadLost();
  // Pool threads inside an isolate right now (scheduler mutex held).
  static size_t Busy();
};

}  // namespace islet
