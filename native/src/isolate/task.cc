// The one runner behind every sync, async and ignored call.
#include "isolate/task.h"

#include <optional>

#include "isolate/remote.h"
#include "isolate/scope.h"
#include "isolate/settle.h"
#include "isolate/transfer.h"
#include "isolate/watchdog.h"

namespace islet {
namespace {

using Outcome = std::optional<ThrownValue>;

// A JavaScript exception that reached the runner without being turned into data by the task
// (a V8 call outside InContext): described from the TryCatch that caught it.
ThrownValue Escaped(Isolate* isolate, v8::TryCatch& try_catch) {
  if (try_catch.HasTerminated() || !try_catch.HasCaught()) {
    return MakeThrown(ErrorClass::Error, "Execution was terminated", "ERR_ISOLATE_TERMINATED");
  }
  Local<Context> context = isolate->GetCurrentContext();
  if (context.IsEmpty()) {
    IsolateEnvironment* env = IsolateEnvironment::Current();
    if (env && !env->is_default()) context = env->UtilityContext();
  }
  if (context.IsEmpty()) return MakeThrown(ErrorClass::Error, ToUtf8(isolate, try_catch.Exception()));
  Context::Scope scope(context);
  return CaptureException(isolate, context, try_catch.Exception());
}

// A run cut by a time limit may leave promise jobs queued (`Promise.resolve().then(spin)` before
// an endless loop): run later, at the next checkpoint, they would escape every limit. V8 empties
// the queue when a checkpoint is terminated, which is what happens here before any job starts.
void DiscardMicrotasks(Isolate* isolate) {
  isolate->TerminateExecution();
  isolate->PerformMicrotaskCheckpoint();
  isolate->CancelTerminateExecution();
}

// Phase 2 with the limits around it. `drain`: this is the outermost entry of a non-default
// isolate, so its microtasks run here, inside the timed window, and a promise rejection they
// leave unhandled becomes the run's error.
Outcome RunGuarded(ThreePhaseTask& task, IsolateEnvironment& env, bool drain) {
  if (env.torn_down() || (env.disposed() && task.runs_code)) return DisposedError();
  Isolate* isolate = env.isolate();
  Outcome error;
  TimerKind fired;
  {
    if (drain) env.ForgetUnhandledRejections();
    TimedRun timer(env, task.timeout_ms, task.cpu_timeout_ms);
    v8::TryCatch try_catch(isolate);
    try {
      task.Run();
      if (drain && !env.disposed()) {
        isolate->PerformMicrotaskCheckpoint();
        ThrownValue rejection;
        if (!isolate->IsExecutionTerminating() && env.TakeUnhandledRejection(&rejection)) error = rejection;
      }
    } catch (const ThrownValue& thrown) {
      error = thrown;
    } catch (const JsPending&) {
      error = Escaped(isolate, try_catch);
    }
    fired = timer.Finish();
  }
  if (drain && fired != TimerKind::None && !env.disposed()) DiscardMicrotasks(isolate);
  if (env.is_default()) return error;
  // Memory V8 keeps outside its heap and outside our allocator (WebAssembly memories) counts too.
  if (!env.disposed() && env.ExternalMemoryOverLimit()) env.MarkMemoryLimitHit();
  if (env.memory_limit_hit()) {
    env.Dispose();
    return MakeThrown(ErrorClass::Error, "Isolate was disposed during execution due to memory limit",
                      "ERR_ISOLATE_MEMORY_LIMIT");
  }
  if (env.dispose_requested_while_running() && task.runs_code) {
    return MakeThrown(ErrorClass::Error, "Isolate was disposed during execution", "ERR_ISOLATE_DISPOSED");
  }
  if (fired != TimerKind::None) {
    ErrorData data;
    data.message = "Script execution timed out.";
    data.code = fired == TimerKind::Cpu ? "ERR_ISOLATE_CPU_TIMEOUT" : "ERR_ISOLATE_TIMEOUT";
    data.isolate_stack = env.timer_stack;  // empty when V8 stopped before it could be read
    data.has_isolate_stack = true;
    // The isolate's frames where it was stopped lead the stack the caller sees.
    if (!env.timer_stack.empty()) data.stack = "Error: " + data.message + "\n" + env.timer_stack;
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
  AsyncRun(std::unique_ptr<ThreePhaseTask> task, EnvPtr target, EnvPtr caller,
           RemotePtr<v8::Promise::Resolver> resolver, RemotePtr<Context> context, RemotePtr<v8::StackTrace> call_site)
      : task_(std::move(task)),
        target_(std::move(target)),
        caller_(std::move(caller)),
        resolver_(std::move(resolver)),
        context_(std::move(context)),
        call_site_(std::move(call_site)) {}
  AsyncRun(AsyncRun&&) = default;

  // The thread running this task is lost (MarkLost): the caller learns it from a settle step
  // made of copies (this object stays on that thread's stack for good).
  void Abandon(const ThrownValue& error) override {
    if (!caller_) return;
    auto settle = std::make_unique<AsyncRun>(nullptr, target_, caller_, resolver_, context_, call_site_);
    settle->ran_ = true;
    settle->outcome_ = error;
    caller_->Post(std::move(settle));
  }

  void Run() override {
    if (ran_) {
      Settle();
      return;
    }
    ran_ = true;
    if (target_->torn_down() || (target_->disposed() && task_->runs_code)) {
      outcome_ = DisposedError();
    } else if (target_->is_default()) {
      ExecScope scope(*target_);
      outcome_ = RunGuarded(*task_, *target_, false);
    } else {
      target_->in_flight = this;
      outcome_ = RunGuarded(*task_, *target_, true);
      target_->in_flight = nullptr;
    }
    if (!caller_) return;  // ignored form: drop the result
    EnvPtr caller = caller_;
    // The queue deletes this object after Run(): the settle step moves into a new one.
    caller->Post(std::make_unique<AsyncRun>(std::move(*this)));
  }

 private:
  void Settle() {
    bool settled = SettleIn(*caller_, context_, resolver_, [&](Isolate* isolate, Local<Context> context) {
      if (!outcome_) {
        try {
          return Settlement{false, task_->Finish(isolate, context)};
        } catch (const ThrownValue& thrown) {
          outcome_ = thrown;
        }
      }
      Local<Value> error = Rebuild(isolate, context, *outcome_);
      AppendCallSite(isolate, context, error);
      return Settlement{true, error};
    });
    if (settled && caller_->is_default()) caller_->UnrefLoop();
  }

  // A rejection is made here, with no JavaScript on the stack: the frames of the call that
  // started the work (captured then) say where it came from.
  void AppendCallSite(Isolate* isolate, Local<Context> context, Local<Value> error) {
    if (!call_site_ || !error->IsNativeError()) return;
    Local<Value> stack;
    if (!error.As<Object>()->Get(context, V8Symbol(isolate, "stack")).ToLocal(&stack) || !stack->IsString()) return;
    std::string frames = FormatStackFrames(isolate, call_site_->Deref());
    if (frames.empty()) return;
    (void)error.As<Object>()->Set(context, V8Symbol(isolate, "stack"),
                                  V8String(isolate, ToUtf8(isolate, stack) + "\n" + frames));
  }

  std::unique_ptr<ThreePhaseTask> task_;
  EnvPtr target_;
  EnvPtr caller_;
  RemotePtr<v8::Promise::Resolver> resolver_;
  RemotePtr<Context> context_;
  RemotePtr<v8::StackTrace> call_site_;
  Outcome outcome_;
  bool ran_ = false;
};

Outcome RunSync(ThreePhaseTask& task, IsolateEnvironment* caller, const EnvPtr& target) {
  if (target.get() == caller) return RunGuarded(task, *target, false);
  if (target->is_default()) {
    if (target->OnOwnThread()) {
      ExecScope scope(*target);
      return RunGuarded(task, *target, false);
    }
    BlockingRun run(task, *target);
    if (!target->RunBlocking(run)) {
      return MakeThrown(ErrorClass::Error, "Node's environment is shutting down", "ERR_ISOLATE_DISPOSED");
    }
    return std::move(run.outcome);
  }
  if (!IsolateEnvironment::DefaultOnThisThread() && !target->OnOwnThread()) {
    throw MakeThrown(ErrorClass::Error,
                     "A synchronous call from an isolate running on islet's thread pool (inside an async call) into "
                     "another isolate is not allowed (it could deadlock): use the async form",
                     "ERR_ISOLATE_DEADLOCK");
  }
  ExecScope scope(*target);
  if (scope.outermost()) target->DrainQueue();
  return RunGuarded(task, *target, scope.outermost());
}

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
    RemotePtr<v8::StackTrace> call_site;
    Local<v8::Promise> promise;
    if (mode == Mode::Async) {
      Local<Context> current = isolate->GetCurrentContext();
      Local<v8::Promise::Resolver> local = Check(v8::Promise::Resolver::New(current));
      promise = local->GetPromise();
      resolver = MakeRemote(caller_env, local);
      context = MakeRemote(caller_env, current);
      call_site = MakeRemote(caller_env, v8::StackTrace::CurrentStackTrace(isolate, 10));
      if (caller->is_default()) caller->RefLoop();
    }
    target->Post(std::make_unique<AsyncRun>(std::move(task), target, mode == Mode::Async ? caller_env : nullptr,
                                            resolver, context, call_site));
    if (mode == Mode::Async) return promise;
    return v8::Undefined(isolate);
  }

  Outcome outcome = RunSync(*task, caller, target);
  if (outcome) throw *outcome;
  return task->Finish(isolate, isolate->GetCurrentContext());
}

}  // namespace islet
