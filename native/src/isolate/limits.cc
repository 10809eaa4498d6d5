// Memory limit, code-generation limit and unhandled-rejection tracking (see limits.h).
#include "isolate/promise_rejections.h"
#include "isolate/stuck_runs.h"
#include "isolate/limits.h"

#include <chrono>
#include <cstdio>

#include "isolate/scope.h"
#include "isolate/task.h"

namespace islet {
namespace {

// The one extra allowance a run gets when its heap reaches the limit: room for V8 to finish
// what it is doing (and for a collection to show whether the heap really is full).
size_t HeapMargin(size_t initial) { return std::min<size_t>(std::max<size_t>(initial / 2, 8u << 20), 32u << 20); }

// Past the limit with the margin spent, the script is terminated; but the operation in progress
// may be a builtin that does not check for termination (Array.prototype.fill, a deserialization)
// and V8 aborts the whole process if an allocation it needs is refused. So while termination is
// pending the heap may grow geometrically up to this ceiling (then V8's OOM handler takes over).
size_t UnwindCeiling(size_t initial) { return initial + (size_t(1) << 30); }

// After a full collection: is the heap still past the limit?
void CollectInterrupt(Isolate* isolate, void* raw) {
  auto* env = static_cast<IsolateEnvironment*>(raw);
  if (env->disposed()) return;
  isolate->LowMemoryNotification();
  v8::HeapStatistics stats;
  isolate->GetHeapStatistics(&stats);
  if (stats.used_heap_size() > env->memory_limit_bytes()) {
    env->MarkMemoryLimitHit();
    isolate->TerminateExecution();
  }
}

size_t NearHeapLimit(void* data, size_t current, size_t initial) {
  auto* env = static_cast<IsolateEnvironment*>(data);
  auto& state = env->heap_limit;
  Isolate* isolate = env->isolate();
  v8::HeapStatistics stats;
  isolate->GetHeapStatistics(&stats);
  size_t used = stats.used_heap_size();
  size_t margin = HeapMargin(initial);
  if (!state.granted) {
    // First time at the limit in this stretch: what is in the way may be garbage a full
    // collection would free. The heap's "used" size cannot tell (it counts what concurrent
    // sweeping has not reached yet, and sweeper threads lag on a busy machine: an isolate holding
    // only garbage was ended that way in CI). Grant a small margin once and collect at the next
    // safe point; that collection decides whether the isolate is full.
    state.granted = true;
    isolate->RequestInterrupt(CollectInterrupt, env);
    return current + margin;
  }
  // Past the limit for real: the script is over (the run ends with ERR_ISOLATE_MEMORY_LIMIT and
  // the isolate is disposed). V8 must still be given room for what it is doing, or it aborts.
  state.granted = true;
  env->MarkMemoryLimitHit();
  isolate->TerminateExecution();
  // a run that cannot unwind (a builtin that never checks for termination) is ended with its process
  StuckRunArm(env, "reaching its heap limit (" + std::to_string(env->memory_limit_bytes() >> 20) + " MB, heap " +
                       std::to_string(current >> 20) + " MB)");
  size_t ceiling = UnwindCeiling(initial);
  if (current >= ceiling) return current;  // V8's out-of-memory handler takes over
  return std::min(std::max(used + margin, current + std::max(margin, current / 2)), ceiling);
}

// After every full collection: once the heap is back under the limit, the next overrun gets
// its margin again (V8 restores the initial limit itself, see AutomaticallyRestoreInitialHeapLimit).
void AfterMarkCompact(Isolate* isolate, v8::GCType, v8::GCCallbackFlags, void* data) {
  auto* env = static_cast<IsolateEnvironment*>(data);
  if (!env->heap_limit.granted) return;
  v8::HeapStatistics stats;
  isolate->GetHeapStatistics(&stats);
  if (stats.heap_size_limit() <= env->heap_limit.initial_limit) env->heap_limit.granted = false;
}

void OnOOM(const char* location, const v8::OOMDetails& details) {
  // V8 cannot continue this isolate. Tell the host, then quarantine the thread (a pool thread
  // never returns to V8, which would abort the process); on Node's thread V8 aborts.
  Isolate* isolate = Isolate::GetCurrent();
  EnvPtr env = isolate ? IsolateEnvironment::Find(isolate) : nullptr;
  std::string message = std::string("V8 out of memory: ") + (location ? location : "") +
                        (details.detail ? std::string(" (") + details.detail + ")" : "");
  std::fprintf(stderr, "islet: %s\n", message.c_str());
  if (env && env->on_catastrophic_error) env->on_catastrophic_error(message);
  if (env && !env->is_default() && IsolateEnvironment::DefaultOnThisThread() == nullptr) {
    // A pool thread: V8 must never run on it again (returning would abort the process). The
    // isolate is given up, what waits on it fails, and the thread sleeps until the process ends.
    env->MarkLost(message);
    Scheduler::ThreadLost();
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  // On Node's thread V8 aborts the process when this returns: nothing can unwind the JavaScript
  // frames below. Hosts of untrusted code run isolates in worker processes (DESIGN.md).
}

v8::ModifyCodeGenerationFromStringsResult OnCodeGeneration(Local<Context>, Local<Value> source, bool) {
  v8::ModifyCodeGenerationFromStringsResult result;
  IsolateEnvironment* env = IsolateEnvironment::Current();
  if (env && !env->is_default() && source->IsString()) {
    size_t length = size_t(source.As<String>()->Length());
    size_t limit = env->memory_limit_bytes() / kCodeLimitDivisor;
    uint64_t deadline = env->run_deadline_ns.load();
    if (deadline) {
      uint64_t now = WallNs();
      uint64_t left_ms = deadline > now ? (deadline - now) / 1000000 : 0;
      limit = std::min<size_t>(limit, std::max<size_t>(kCodeMinChars, left_ms * kCodeCharsPerMs));
    }
    if (length > limit) return result;  // refused: V8 throws an EvalError
  }
  result.codegen_allowed = true;
  return result;
}

// The isolate's one promise rejection callback: a context with its own handler
// (createContext({ promiseRejections: true })) deals with its rejections itself; elsewhere an
// unhandled rejection of a run is reported as the reference library does.
void OnPromiseReject(v8::PromiseRejectMessage message) {
  if (DispatchPromiseRejection(message)) return;
  IsolateEnvironment* env = IsolateEnvironment::Current();
  if (!env || env->is_default()) return;
  switch (message.GetEvent()) {
    case v8::kPromiseRejectWithNoHandler:
      env->NoteUnhandledRejection(message.GetPromise());
      break;
    case v8::kPromiseHandlerAddedAfterReject:
      env->NoteRejectionHandled(message.GetPromise());
      break;
    default:
      break;
  }
}

}  // namespace

void InstallLimits(IsolateEnvironment& env) {
  Isolate* isolate = env.isolate();
  v8::HeapStatistics stats;
  isolate->GetHeapStatistics(&stats);
  env.heap_limit.initial_limit = stats.heap_size_limit();
  isolate->AddNearHeapLimitCallback(NearHeapLimit, &env);
  isolate->AutomaticallyRestoreInitialHeapLimit(0.5);
  isolate->AddGCEpilogueCallback(AfterMarkCompact, &env, v8::kGCTypeMarkSweepCompact);
  isolate->SetOOMErrorHandler(OnOOM);
  isolate->SetModifyCodeGenerationFromStringsCallback(OnCodeGeneration);
  isolate->SetPromiseRejectCallback(OnPromiseReject);
}

void GuardCodeGeneration(Isolate* isolate, Local<Context> context) {
  context->AllowCodeGenerationFromStrings(false);
  context->SetErrorMessageForCodeGenerationFromStrings(
      V8String(isolate,
               "Code generation from strings refused: the code is larger than this isolate may generate "
               "(memoryLimit / 8 characters, or what can be parsed in the time left in the run)"));
}

void IsolateEnvironment::NoteUnhandledRejection(Local<v8::Promise> promise) {
  unhandled_.emplace_back(isolate_, promise);
  unhandled_.back().SetWeak();
}

void IsolateEnvironment::NoteRejectionHandled(Local<v8::Promise> promise) {
  for (auto& handle : unhandled_) {
    if (!handle.IsEmpty() && handle.Get(isolate_) == promise) handle.Reset();
  }
}

void IsolateEnvironment::ForgetUnhandledRejections() { unhandled_.clear(); }

bool IsolateEnvironment::TakeUnhandledRejection(ThrownValue* out) {
  if (unhandled_.empty()) return false;
  std::vector<v8::Global<v8::Promise>> rejected;
  rejected.swap(unhandled_);
  for (auto& handle : rejected) {
    if (handle.IsEmpty()) continue;
    HandleScope handles(isolate_);
    Local<v8::Promise> promise = handle.Get(isolate_);
    Local<Context> context;
    if (!promise->GetCreationContext().ToLocal(&context)) context = UtilityContext();
    Context::Scope scope(context);
    *out = CaptureException(isolate_, context, promise->Result());
    return true;
  }
  return false;
}

}  // namespace islet
