// ExecScope: the one way into an isolate. Construction takes ownership of the isolate (waiting
// for another thread to finish with it; Node's thread keeps serving blocking requests while it
// waits so a pool thread calling back into Node cannot deadlock it), locks it, enters it,
// opens a HandleScope and starts the CPU and wall clocks. Destruction stops and accounts the
// clocks, runs V8's foreground tasks, leaves, unlocks, and tears the isolate down if disposal
// was requested meanwhile. A nested scope of another isolate on the same thread pauses the outer
// isolate's CPU clock; a nested scope of Node's isolate (a host callback the isolate made) does
// not: the callback's time is the isolate's.
// The CPU charged is the thread's CPU clock less the machine stops the watchdog credited to the
// thread meanwhile (see watchdog.h).
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
  void PauseCpu();
  void ResumeCpu();

  IsolateEnvironment& env_;
  ExecScope* outer_;
  bool outermost_ = false;
  bool same_as_outer_ = false;
  std::optional<v8::Locker> locker_;
  std::optional<Isolate::Scope> isolate_scope_;
  std::optional<HandleScope> handle_scope_;
  uint64_t cpu_start_ = 0;
  uint64_t cpu_accum_ = 0;
  uint64_t credit_start_ = 0;  // the watchdog's stall credit to this thread, as for the CPU clock
  uint64_t credit_accum_ = 0;
  bool paused_ = false;  // a nested scope of another isolate ran inside this one
  int pause_depth_ = 0;  // nested pauses in progress (one reaches here through each callback level)
  uint64_t wall_start_ = 0;
};

// The pool of threads running queued work of non-default isolates.
class Scheduler {
 public:
  static std::mutex& Mutex();
  static std::condition_variable& OwnershipChanged();
  // Makes sure a pool thread will drain `env`'s queue.
  static void Schedule(const EnvPtr& env);
};

}  // namespace islet
