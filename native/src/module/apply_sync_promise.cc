// Reference.applySyncPromise: an isolate running on the pool calls a function of Node's isolate
// and blocks until the Promise it returns settles (a synchronous helper backed by async host
// code). The wait is tied to both sides: disposing the calling isolate, or Node's environment
// shutting down, wakes it with an error; `timeout` bounds it.
#include <chrono>

#include "isolate/scope.h"
#include "module/handles.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

struct PendingSettle : public Cancelable {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  bool cancelled = false;
  bool rejected = false;
  TransferablePtr value;
  TransferOptions options;

  void Cancel() override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!done) cancelled = done = true;
    cv.notify_all();
  }
};

void Settle(const FunctionCallbackInfo<Value>& info, bool rejected) {
  Isolate* isolate = info.GetIsolate();
  std::shared_ptr<PendingSettle> state = DataOf<PendingSettle>(info);
  TransferablePtr value;
  try {
    value = rejected ? CopyThrown(isolate, isolate->GetCurrentContext(), info[0])
                     : ::islet::TransferOut(isolate, isolate->GetCurrentContext(), info[0], state->options,
                                            Fallback::Reference);
  } catch (const ThrownValue& thrown) {
    value = thrown.value;
    rejected = true;
  } catch (const JsPending&) {
    value = CopyPrimitive(isolate, v8::Undefined(isolate));
    rejected = true;
  }
  std::lock_guard<std::mutex> lock(state->mutex);
  if (state->done) return;
  state->done = true;
  state->rejected = rejected;
  state->value = value;
  state->cv.notify_all();
}

// Marks the calling isolate as waiting on Node for the length of the wait: Node's thread must
// not then wait to enter it (see ExecScope), it would never get it.
class AwaitingHost {
 public:
  explicit AwaitingHost(IsolateEnvironment& env) : env_(env) {
    env_.awaiting_host = true;
    std::lock_guard<std::mutex> lock(Scheduler::Mutex());
    Scheduler::OwnershipChanged().notify_all();  // a thread already waiting re-checks
  }
  ~AwaitingHost() { env_.awaiting_host = false; }

 private:
  IsolateEnvironment& env_;
};

}  // namespace

Local<Value> ApplySyncPromise(const FunctionCallbackInfo<Value>& info, const ReferenceDataPtr& data) {
  Isolate* isolate = info.GetIsolate();
  Local<Context> caller_context = isolate->GetCurrentContext();
  IsolateEnvironment* caller = IsolateEnvironment::Current();
  if (!data->env()->is_default())
    ThrowTypeError("applySyncPromise may only be used on a function of the default (Node) isolate");
  if (caller->is_default() || IsolateEnvironment::DefaultOnThisThread()) {
    ThrowError(
        ErrorClass::Error,
        "This function may not be called from the default thread: applySyncPromise must be called from an isolate "
        "running an async call");
  }
  Local<Value> options = info[2];
  CheckOptions(options, "options");
  TransferOptions arg_options = TransferOptions::Parse(isolate, Option(isolate, options, "arguments"));
  double timeout_ms = OptionMs(isolate, options, "timeout");
  auto state = std::make_shared<PendingSettle>();
  state->options = TransferOptions::Parse(isolate, Option(isolate, options, "result"));
  TransferablePtr receiver =
      ::islet::TransferOut(isolate, caller_context, info[0], TransferOptions{}, Fallback::Throw, true);
  std::vector<TransferablePtr> args = TransferArguments(isolate, caller_context, info[1], arg_options);
  if (!caller->AddCancelable(state) || !data->env()->AddCancelable(state)) throw DisposedError();
  // Phase one on Node's thread: call, then hook the settlement (which happens later on Node's loop).
  auto start = MakeTask(
      [data, receiver, args, state] {
        Isolate* node = data->env()->isolate();
        Local<Context> context = data->context->Deref();
        InContext(node, context, [&] {
          Local<Value> fn = data->value->Deref();
          if (!fn->IsFunction()) ThrowTypeError("Reference is not a function");
          std::vector<Local<Value>> argv;
          for (auto& arg : args) argv.push_back(arg->TransferIn(node, context));
          Local<Value> result = Check(
              fn.As<Function>()->Call(context, receiver->TransferIn(node, context), int(argv.size()), argv.data()));
          auto on_fulfilled = [](const FunctionCallbackInfo<Value>& i) { Settle(i, false); };
          auto on_rejected = [](const FunctionCallbackInfo<Value>& i) { Settle(i, true); };
          Local<Function> fulfilled = NewFunctionWithData(node, context, on_fulfilled, state);
          Local<Function> rejected = NewFunctionWithData(node, context, on_rejected, state);
          if (result->IsPromise()) {
            Check(result.As<v8::Promise>()->Then(context, fulfilled, rejected));
          } else {
            Local<Value> argv1[] = {result};
            Check(fulfilled->Call(context, v8::Undefined(node), 1, argv1));
          }
        });
      },
      [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Undefined(isolate); });
  ThreePhaseTask::Execute(Mode::Sync, std::move(start), data->env());
  bool timed_out = false;
  {
    AwaitingHost awaiting(*caller);
    std::unique_lock<std::mutex> lock(state->mutex);
    if (timeout_ms > 0) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(int64_t(timeout_ms * 1000));
      timed_out = !state->cv.wait_until(lock, deadline, [&] { return state->done; });
    } else {
      state->cv.wait(lock, [&] { return state->done; });
    }
    if (timed_out) state->cancelled = state->done = true;
  }
  if (timed_out) ThrowError(ErrorClass::Error, "Script execution timed out.", "ERR_ISOLATE_TIMEOUT");
  if (state->cancelled) throw DisposedError();
  if (state->rejected) throw ThrownValue{state->value};
  return state->value->TransferIn(isolate, caller_context);
}

}  // namespace islet
