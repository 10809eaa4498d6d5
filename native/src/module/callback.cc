// Callback: a function of one isolate callable from another (sync, async or ignored), with
// arguments and results copied like ExternalCopy. Also the Promise proxy of TransferOptions'
// `promise`: a Promise in one isolate, mirrored by a Promise in another.
#include <optional>

#include "isolate/settle.h"
#include "module/handles.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

class CallbackHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Callback;
  static constexpr const char* kName = "Callback";
  explicit CallbackHandle(CallbackDataPtr data) : ClassHandle(kId), data_(std::move(data)) {}

  TransferablePtr TransferOut() override {
    if (!data_) ThrowError(ErrorClass::Error, "Callback has been released", "ERR_ISOLATE_RELEASED");
    return CallbackTransfer(data_);
  }

  static void New(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Guard(isolate, [&] {
      if (!info.IsConstructCall()) ThrowTypeError("Class constructor Callback cannot be invoked without 'new'");
      if (!info[0]->IsFunction()) ThrowTypeError("`fn` must be a function");
      int modes = 0;
      CallbackMode mode = CallbackMode::Sync;
      if (OptionBool(isolate, info[1], "async")) mode = CallbackMode::Async, modes++;
      if (OptionBool(isolate, info[1], "ignored")) mode = CallbackMode::Ignored, modes++;
      if (OptionBool(isolate, info[1], "sync")) mode = CallbackMode::Sync, modes++;
      if (modes > 1) ThrowTypeError("Only one of `async`, `ignored` or `sync` may be set");
      CallbackDataPtr data = MakeCallbackData(isolate, isolate->GetCurrentContext(), info[0].As<Function>(), mode);
      (new CallbackHandle(data))->Adopt(isolate, info.This());
    });
  }

  void Release(const FunctionCallbackInfo<Value>& info) {
    data_.reset();
    info.GetReturnValue().SetUndefined();
  }

 private:
  CallbackDataPtr data_;
};

// Keeps the data of a function made for a Callback as long as that function lives.
class CallbackInvoker : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Callback;
  static constexpr const char* kName = "Callback";
  explicit CallbackInvoker(CallbackDataPtr data) : ClassHandle(kId), data(std::move(data)) {}
  TransferablePtr TransferOut() override { return CallbackTransfer(data); }
  CallbackDataPtr data;
};

std::unique_ptr<ThreePhaseTask> CallTask(const CallbackDataPtr& data, std::vector<TransferablePtr> args,
                                         bool await_promise) {
  auto out = std::make_shared<TransferablePtr>();
  return MakeTask(
      [data, args = std::move(args), out, await_promise] {
        Isolate* isolate = data->env()->isolate();
        Local<Context> context = data->context->Deref();
        InContext(isolate, context, [&] {
          std::vector<Local<Value>> argv;
          argv.reserve(args.size());
          for (auto& arg : args) argv.push_back(arg->TransferIn(isolate, context));
          Local<Value> result =
              Check(data->function->Deref()->Call(context, v8::Undefined(isolate), int(argv.size()), argv.data()));
          TransferOptions options;
          options.kind = TransferOptions::Kind::Copy;
          options.promise = await_promise;
          *out = ::islet::TransferOut(isolate, context, result, options, Fallback::Throw);
        });
      },
      [out](Isolate* isolate, Local<Context> context) { return (*out)->TransferIn(isolate, context); });
}

void Invoke(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    auto* invoker = static_cast<CallbackInvoker*>(info.Data().As<v8::External>()->Value());
    CallbackDataPtr data = invoker->data;
    Local<Context> context = isolate->GetCurrentContext();
    std::vector<TransferablePtr> args;
    args.reserve(info.Length());
    for (int i = 0; i < info.Length(); ++i) {
      CopiedValuePtr copy = CopyValue(isolate, context, info[i]);
      copy->one_shot = true;
      args.push_back(copy);
    }
    Mode mode = data->mode == CallbackMode::Async     ? Mode::Async
                : data->mode == CallbackMode::Ignored ? Mode::Ignored
                                                      : Mode::Sync;
    info.GetReturnValue().Set(
        ThreePhaseTask::Execute(mode, CallTask(data, std::move(args), mode == Mode::Async), data->env()));
  });
}

class CallbackArrival : public Transferable {
 public:
  explicit CallbackArrival(CallbackDataPtr data) : data_(std::move(data)) {}
  Local<Value> TransferIn(Isolate* isolate, Local<Context> context) override {
    return CallbackFunction(isolate, context, data_);
  }

 private:
  CallbackDataPtr data_;
};

// --- Promise proxy ---

struct PromiseState : public Cancelable, public std::enable_shared_from_this<PromiseState> {
  std::mutex mutex;
  bool settled = false;
  bool rejected = false;
  TransferablePtr value;
  EnvPtr receiver;
  RemotePtr<v8::Promise::Resolver> resolver;
  RemotePtr<Context> context;
  TransferOptions options;
  Fallback fallback = Fallback::Reference;

  // Settles the receiving side (once); `receiver` may not have arrived yet.
  void Settle(bool is_rejected, TransferablePtr settled_value);
  // The isolate holding the original Promise went away: the proxy rejects.
  void Cancel() override { Settle(true, DisposedError().value); }
};

class SettleRunnable : public Runnable {
 public:
  explicit SettleRunnable(std::shared_ptr<PromiseState> state) : state_(std::move(state)) {}
  void Run() override {
    SettleIn(*state_->receiver, state_->context, state_->resolver, [&](Isolate* isolate, Local<Context> context) {
      return Settlement{state_->rejected, state_->value->TransferIn(isolate, context)};
    });
  }

 private:
  std::shared_ptr<PromiseState> state_;
};

void PromiseState::Settle(bool is_rejected, TransferablePtr settled_value) {
  EnvPtr to;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (settled) return;
    settled = true;
    rejected = is_rejected;
    value = std::move(settled_value);
    to = receiver;
  }
  if (to) to->Post(std::make_unique<SettleRunnable>(shared_from_this()));
}

void OnSettled(const FunctionCallbackInfo<Value>& info, bool rejected) {
  Isolate* isolate = info.GetIsolate();
  std::shared_ptr<PromiseState> state = DataOf<PromiseState>(info);
  TransferablePtr value;
  try {
    value = rejected
                ? CopyThrown(isolate, isolate->GetCurrentContext(), info[0])
                : ::islet::TransferOut(isolate, isolate->GetCurrentContext(), info[0], state->options, state->fallback);
  } catch (const ThrownValue& thrown) {
    value = thrown.value;
    rejected = true;
  } catch (const JsPending&) {
    return;
  }
  state->Settle(rejected, std::move(value));
}

class PromiseArrival : public Transferable {
 public:
  explicit PromiseArrival(std::shared_ptr<PromiseState> state) : state_(std::move(state)) {}
  Local<Value> TransferIn(Isolate* isolate, Local<Context> context) override {
    Local<v8::Promise::Resolver> resolver = Check(v8::Promise::Resolver::New(context));
    EnvPtr env = CurrentEnv();
    bool settled;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->receiver) ThrowTypeError("A proxied Promise can only be received once");
      state_->receiver = env;
      state_->resolver = MakeRemote(env, resolver);
      state_->context = MakeRemote(env, context);
      settled = state_->settled;
    }
    // Not a reason to keep Node's loop alive: a Promise nothing will settle must not hang the
    // process (if its isolate is disposed, it rejects).
    if (settled) env->Post(std::make_unique<SettleRunnable>(state_));
    return resolver->GetPromise();
  }

 private:
  std::shared_ptr<PromiseState> state_;
};

}  // namespace

TransferablePtr TransferPromise(Isolate* isolate, Local<Context> context, Local<v8::Promise> promise,
                                TransferOptions inner, Fallback fallback) {
  auto state = std::make_shared<PromiseState>();
  state->options = inner;
  state->fallback = fallback;
  auto on_fulfilled = [](const FunctionCallbackInfo<Value>& i) { OnSettled(i, false); };
  auto on_rejected = [](const FunctionCallbackInfo<Value>& i) { OnSettled(i, true); };
  Local<Function> fulfilled = NewFunctionWithData(isolate, context, on_fulfilled, state);
  Local<Function> rejected = NewFunctionWithData(isolate, context, on_rejected, state);
  Check(promise->Then(context, fulfilled, rejected));
  CurrentEnv()->AddCancelable(state);
  return std::make_shared<PromiseArrival>(state);
}

CallbackDataPtr MakeCallbackData(Isolate* isolate, Local<Context> context, Local<Function> function,
                                 CallbackMode mode) {
  auto data = std::make_shared<CallbackData>();
  EnvPtr env = CurrentEnv();
  Local<Context> home;
  if (!function->GetCreationContext().ToLocal(&home)) home = context;
  data->function = MakeRemote(env, function);
  data->context = MakeRemote(env, home);
  data->mode = mode;
  data->name = ToUtf8(isolate, function->GetName());
  return data;
}

TransferablePtr CallbackTransfer(CallbackDataPtr data) { return std::make_shared<CallbackArrival>(std::move(data)); }

Local<Value> CallbackFunction(Isolate* isolate, Local<Context> context, const CallbackDataPtr& data) {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  if (data->env().get() == env) return data->function->Deref();
  auto* invoker = new CallbackInvoker(data);
  Local<Function> fn;
  if (!Function::New(context, Invoke, v8::External::New(isolate, invoker)).ToLocal(&fn)) {
    delete invoker;
    throw JsPending{};
  }
  if (!data->name.empty()) fn->SetName(V8String(isolate, data->name));
  invoker->Attach(*env, fn);
  return fn;
}

Local<Value> CallSync(Isolate* isolate, const CallbackDataPtr& data, std::vector<TransferablePtr> args) {
  return ThreePhaseTask::Execute(Mode::Sync, CallTask(data, std::move(args), false), data->env());
}

Local<Object> NewCallback(Isolate* isolate, Local<Context> context, CallbackDataPtr data) {
  return (new CallbackHandle(std::move(data)))->Wrap(isolate, context);
}

Local<FunctionTemplate> DefineCallback(Isolate* isolate) {
  using C = CallbackHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "Callback", C::New);
  SetMethod(isolate, tmpl, "release", Bind<C, &C::Release>);
  return tmpl;
}

}  // namespace islet
