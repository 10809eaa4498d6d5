// ThreePhaseTask: every operation that crosses into another isolate, written once and run in
// the sync, async or ignored form.
//   prepare (constructor): in the caller's isolate, copy the inputs out as Transferables;
//   Run():                 in the target isolate, do the work, keep outputs as Transferables;
//   Finish():              back in the caller's isolate, materialise the result.
// The runner around Run() applies the timeouts, drains microtasks inside the timed window,
// reports promise rejections the run left unhandled, and turns limit hits (time, memory,
// disposal) into the documented errors.
//
// Where a sync call may run (the reference library's rule): on Node's thread, into any isolate
// (nested inside another isolate too: the thread waits for the target, serving callbacks into
// Node meanwhile); on a pool thread, into its own isolate or into Node's. A sync call from a
// pool thread into another non-default isolate throws ERR_ISOLATE_DEADLOCK: two pool threads
// doing that to each other would wait forever.
#pragma once

#include "isolate/environment.h"

namespace islet {

class ThreePhaseTask {
 public:
  enum class Mode { Sync, Async, Ignored };

  virtual ~ThreePhaseTask() = default;
  virtual void Run() = 0;
  virtual Local<Value> Finish(Isolate* isolate, Local<Context> context) = 0;

  double timeout_ms = 0;
  double cpu_timeout_ms = 0;
  // False for work that runs none of the isolate's code (creating a context, compiling, reading
  // heap statistics): queued before dispose(), it still completes (as in the reference library,
  // where the isolate outlives its queue); work that runs code fails with ERR_ISOLATE_DISPOSED.
  bool runs_code = true;

  // Runs `task` against `target` in the given form; returns the result (sync), a Promise
  // (async) or undefined (ignored). Throws ThrownValue / JsPending for the binding to convert.
  static Local<Value> Execute(Mode mode, std::unique_ptr<ThreePhaseTask> task, const EnvPtr& target);

  // Reads `timeout` and `cpuTimeout` from an options object.
  void ReadTimeouts(Isolate* isolate, Local<Value> options);
};

// A task from two lambdas: run() in the target, finish(isolate, context) back in the caller.
template <typename RunFn, typename FinishFn>
class LambdaTask : public ThreePhaseTask {
 public:
  LambdaTask(RunFn run, FinishFn finish) : run_(std::move(run)), finish_(std::move(finish)) {}
  void Run() override { run_(); }
  Local<Value> Finish(Isolate* isolate, Local<Context> context) override { return finish_(isolate, context); }

 private:
  RunFn run_;
  FinishFn finish_;
};
template <typename RunFn, typename FinishFn>
std::unique_ptr<ThreePhaseTask> MakeTask(RunFn run, FinishFn finish) {
  return std::make_unique<LambdaTask<RunFn, FinishFn>>(std::move(run), std::move(finish));
}

// After a V8 call failed inside a task: throws what was caught as a ThrownValue (a termination
// becomes a placeholder error the runner replaces with the limit that caused it).
[[noreturn]] void ThrowCaught(Isolate* isolate, Local<Context> context, v8::TryCatch& try_catch);

// The shape of all work in a target isolate: enter `context`, run `body` under a TryCatch, and
// turn a JavaScript exception (JsPending) into a ThrownValue for the caller's isolate.
template <typename Body>
auto InContext(Isolate* isolate, Local<Context> context, Body&& body) -> decltype(body()) {
  Context::Scope scope(context);
  v8::TryCatch try_catch(isolate);
  try {
    return body();
  } catch (const JsPending&) {
    ThrowCaught(isolate, context, try_catch);
  }
}

// Errors with islet's stable codes.
ThrownValue DisposedError();
ThrownValue MakeThrown(ErrorClass cls, const std::string& message, const std::string& code = "");

}  // namespace islet
