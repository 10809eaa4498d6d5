// The one runner behind every sync, async and ignored call.
#include "isolate/task.h"

#include <optional>

#include "isolate/remote.h"
#include "isolate/scope.h"
#include "isolate/transfer.h"
#include "isolate/watchdog.h"

namespace islet {
namespace {

using Outcome = std::optional<ThrownValue>;

// Phase 2 with the limits around it. `drain`: this is the outermost entry of a non-default
// isolate, so its microtasks run here, inside the timed window.
Outcome RunGuarded(ThreePhaseTask& task, IsolateEnvironment& env, bool drain) {
  if (env.disposed()) return DisposedError();
  Outcome error;
  TimerKind fired;
  {
    TimedRun timer(env, task.timeout_ms, task.cpu_timeout_ms);
    try {
      task.Run();
      if (drain && !env.disposed()) env.isolate()->PerformMicrotaskCheckpoint();
    } catch (const ThrownValue& thrown) {
      error = thrown;
    } catch (const JsPending&) {
      error = MakeThrown(ErrorClass::Error, "Internal error: an exception escaped its isolate");
    }
    fired = timer.Finish();
  }
  // Memory V8 keeps outside its heap and outside our allocator (WebAssembly memories) counts too.
  if (!env.is_default() && !env.disposed() && env.ExternalMemoryOverLimit()) env.MarkMemoryLimitHit();
  if (env.memory_limit_hit() && !env.is_default()) {
    env.Dispose();
    return MakeThrown(ErrorClass::Error, "Isolate was disposed during execution due to memory limit", "ERR_ISOLATE_MEMORY_LIMIT");
  }
  if (env.dispose_requested_while_running()) {
    return MakeThrown(ErrorClass::Error, "Isolate was disposed during execution", "ERR_ISOLATE_DISPOSED");
  }
  if (fired != TimerKind::None) {
    ErrorData data;
    data.message = "Script execution timed out.";
    data.code = fired == TimerKind::Cpu ? "ERR_ISOLATE_CPU_TIMEOUT" : "ERR_ISOLATE_TIMEOUT";
    data.isolate_stack = env.timer_stack;
    env.timer_stack.clear();
    try {
      ThrowErrorData(data);
    } catch (const ThrownValue& thrown) {
      return thrown;
    }
  }
  return error;
}

// Runs a task in Node's isolate on Node's thread on behalf of a pool thread.
class BlockingRun : public Runnable {
 public:
  BlockingRun(ThreePhaseTask& task, IsolateEnvironment& env) : task_(task), env_(env) {}
  void Run() override {
    ExecScope scope(env_);
    outcome = RunGuarded(task_, env_, false);
  }
  Outcome outcome;

 private:
  ThreePhaseTask& task_;
  IsolateEnvironment& env_;
};

// The async and ignored forms: runs in the target's queue, then settles in the caller's queue.
class AsyncRun : public Runnable {
 public:
  AsyncRun(std::unique_ptr<ThreePhaseTask> task, EnvPtr target, EnvPtr caller, RemotePtr<v8::Promise::Resolver> resolver, RemotePtr<Context> context)
      : task_(std::move(task)), target_(std::move(target)), caller_(std::move(caller)), resolver_(std::move(resolver)), context_(std::move(context)) {}

  void Run() override {
    if (!ran_) {
      ran_ = true;
      if (target_->disposed() || target_->torn_down()) {
        outcome_ = DisposedError();
      } else if (target_->is_default()) {
        ExecScope scope(*target_);
        outcome_ = RunGuarded(*task_, *target_, false);
      } else {
        outcome_ = RunGuarded(*task_, *target_, true);
      }
      if (!caller_) return;  // ignored form: drop the result
      EnvPtr caller = caller_;
      // The queue deletes this object after Run(): the settle step moves into a new one.
      caller->Post(std::make_unique<AsyncRun>(std::move(*this)));
      return;
    }
    Settle();
  }
  AsyncRun(AsyncRun&&) = default;

 private:
  void Settle() {
    if (caller_->disposed() || caller_->torn_down()) return;
    Isolate* isolate = caller_->isolate();
    std::optional<ExecScope> scope;
    if (!caller_->is_default()) scope.emplace(*caller_);
    HandleScope handles(isolate);
    Local<Context> context = context_->Deref();
    Context::Scope context_scope(context);
    Local<v8::Promise::Resolver> resolver = resolver_->Deref();
    v8::TryCatch try_catch(isolate);
    Local<Value> result;
    bool ok = false;
    if (!outcome_) {
      try {
        result = task_->Finish(isolate, context);
        ok = true;
      } catch (const ThrownValue& thrown) {
        outcome_ = thrown;
      } catch (const JsPending&) {
        if (try_catch.HasCaught()) {
          result = try_catch.Exception();
          try_catch.Reset();
        }
      }
    }
    if (outcome_) {
      try {
        result = outcome_->value->TransferIn(isolate, context);
      } catch (...) {
        result = v8::Exception::Error(V8String(isolate, "Could not rebuild the error thrown in the isolate"));
      }
    }
    if (result.IsEmpty()) result = v8::Undefined(isolate);
    if (ok) {
      (void)resolver->Resolve(context, result);
    } else {
      (void)resolver->Reject(context, result);
    }
    if (caller_->is_default()) caller_->UnrefLoop();
  }

  std::unique_ptr<ThreePhaseTask> task_;
  EnvPtr target_;
  EnvPtr caller_;
  RemotePtr<v8::Promise::Resolver> resolver_;
  RemotePtr<Context> context_;
  Outcome outcome_;
  bool ran_ = false;
};

}  // namespace

ThrownValue MakeThrown(ErrorClass cls, const std::string& message, const std::string& code) {
  try {
    ThrowError(cls, message, code);
  } catch (const ThrownValue& thrown) {
    return thrown;
  }
}

void ThrowCaught(Isolate* isolate, Local<Context> context, v8::TryCatch& try_catch) {
  if (try_catch.HasTerminated() || !try_catch.HasCaught()) {
    throw MakeThrown(ErrorClass::Error, "Execution was terminated", "ERR_ISOLATE_TERMINATED");
  }
  Local<Value> exception = try_catch.Exception();
  throw CaptureException(isolate, context, exception);
}

ThrownValue DisposedError() { return MakeThrown(ErrorClass::Error, "Isolate is disposed", "ERR_ISOLATE_DISPOSED"); }

void ThreePhaseTask::ReadTimeouts(Isolate* isolate, Local<Value> options) {
  timeout_ms = OptionMs(isolate, options, "timeout");
  cpu_timeout_ms = OptionMs(isolate, options, "cpuTimeout");
}

Local<Value> ThreePhaseTask::Execute(Mode mode, std::unique_ptr<ThreePhaseTask> task, const EnvPtr& target) {
  IsolateEnvironment* caller = IsolateEnvironment::Current();
  Isolate* isolate = caller->isolate();
  if (target->disposed()) throw DisposedError();

  if (mode != Mode::Sync) {
    EnvPtr caller_env = caller->shared_from_this();
    RemotePtr<v8::Promise::Resolver> resolver;
    RemotePtr<Context> context;
    Local<v8::Promise> promise;
    if (mode == Mode::Async) {
      Local<Context> current = isolate->GetCurrentContext();
      Local<v8::Promise::Resolver> local = Check(v8::Promise::Resolver::New(current));
      promise = local->GetPromise();
      resolver = MakeRemote(caller_env, local);
      context = MakeRemote(caller_env, current);
      if (caller->is_default()) caller->RefLoop();
    }
    target->Post(std::make_unique<AsyncRun>(std::move(task), target, mode == Mode::Async ? caller_env : nullptr, resolver, context));
    if (mode == Mode::Async) return promise;
    return v8::Undefined(isolate);
  }

  Outcome outcome;
  if (target.get() == caller) {
    outcome = RunGuarded(*task, *target, false);
  } else if (target->is_default()) {
    if (target->OnOwnThread()) {
      ExecScope scope(*target);
      outcome = RunGuarded(*task, *target, false);
    } else {
      BlockingRun run(*task, *target);
      target->RunBlocking(run);
      outcome = std::move(run.outcome);
    }
  } else {
    if (!caller->is_default()) {
      throw MakeThrown(ErrorClass::Error,
                       "Synchronous calls from one non-default isolate into another are not allowed (they could deadlock); use the async form",
                       "ERR_ISOLATE_DEADLOCK");
    }
    ExecScope scope(*target);
    if (scope.outermost()) target->DrainQueue();
    outcome = RunGuarded(*task, *target, scope.outermost());
  }
  if (outcome) throw *outcome;
  return task->Finish(isolate, isolate->GetCurrentContext());
}

}  // namespace islet
