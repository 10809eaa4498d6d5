// Reference: a handle to a value living in one isolate, usable from any isolate. Also the
// objects returned by `derefInto()` (Dereference), which become the value when they arrive in
// the isolate that owns it.
#include "module/handles.h"
#include "isolate/scope.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

std::string TypeOf(Local<Value> value) {
  if (value->IsNull()) return "null";
  if (value->IsUndefined()) return "undefined";
  if (value->IsNumber()) return "number";
  if (value->IsString()) return "string";
  if (value->IsBoolean()) return "boolean";
  if (value->IsBigInt()) return "bigint";
  if (value->IsFunction()) return "function";
  return "object";  // symbols included, as the API says
}

// Reads a property the way `get` allows: own data properties only, unless the caller opted in.
Local<Value> ReadProperty(Isolate* isolate, Local<Context> context, Local<Object> object, Local<Value> key, bool inherit, bool accessors) {
  if (object->IsProxy() && !accessors) ThrowTypeError("Cannot read a property of a Proxy without `accessors: true`");
  Local<v8::Name> name = key->IsName() ? key.As<v8::Name>() : Check(key->ToString(context)).As<v8::Name>();
  Local<Value> descriptor = Check(object->GetOwnPropertyDescriptor(context, name));
  if (descriptor->IsUndefined()) {
    if (!inherit) return v8::Undefined(isolate);
    if (!accessors) {
      Local<Value> real;
      auto maybe = object->GetRealNamedProperty(context, name);
      if (!maybe.ToLocal(&real)) return v8::Undefined(isolate);
      return real;
    }
    return Check(object->Get(context, name));
  }
  Local<Object> desc = descriptor.As<Object>();
  Local<Value> getter = Check(desc->Get(context, V8Symbol(isolate, "get")));
  Local<Value> setter = Check(desc->Get(context, V8Symbol(isolate, "set")));
  if (!getter->IsUndefined() || !setter->IsUndefined()) {
    if (!accessors) ThrowTypeError("Property is a getter or setter; pass `accessors: true` to invoke it");
    return Check(object->Get(context, name));
  }
  return Check(desc->Get(context, V8Symbol(isolate, "value")));
}

// Runs `operation` on the referenced object inside its own context (get, set and delete): a
// JavaScript exception it raises is carried back to the caller's isolate.
template <typename Operation>
void OnTargetObject(const ReferenceDataPtr& data, Operation operation) {
  Isolate* isolate = data->env()->isolate();
  Local<Context> context = data->context->Deref();
  Context::Scope scope(context);
  v8::TryCatch try_catch(isolate);
  try {
    Local<Value> target = data->value->Deref();
    if (!target->IsObject()) ThrowTypeError("Reference is not an object");
    operation(isolate, context, target.As<Object>());
  } catch (const JsPending&) {
    ThrowCaught(isolate, context, try_catch);
  }
}

class ReferenceHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Reference;
  static constexpr const char* kName = "Reference";
  explicit ReferenceHandle(ReferenceDataPtr data) : ClassHandle(kId), data_(std::move(data)) {}

  TransferablePtr TransferOut() override {
    ReferenceDataPtr data = Data();
    return HandleTransfer([data] { return new ReferenceHandle(data); });
  }

  ReferenceDataPtr Data() const {
    if (!data_) ThrowError(ErrorClass::Error, "Reference has been released", "ERR_ISOLATE_RELEASED");
    return data_;
  }

  static void New(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Guard(isolate, [&] {
      if (!info.IsConstructCall()) ThrowTypeError("Class constructor Reference cannot be invoked without 'new'");
      bool inherit = OptionBool(isolate, info[1], "unsafeInherit");
      ReferenceDataPtr data = MakeReferenceData(isolate, isolate->GetCurrentContext(), info[0], inherit);
      (new ReferenceHandle(data))->Adopt(isolate, info.This());
    });
  }

  void TypeofGetter(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(V8String(info.GetIsolate(), Data()->type));
  }

  void Release(const FunctionCallbackInfo<Value>& info) {
    data_.reset();
    info.GetReturnValue().SetUndefined();
  }
  void Drop() { data_.reset(); }

  void Deref(const FunctionCallbackInfo<Value>& info) {
    ReferenceDataPtr data = Data();
    if (data->env().get() != IsolateEnvironment::Current()) ThrowTypeError("Cannot dereference this from current isolate");
    if (OptionBool(info.GetIsolate(), info[0], "release")) data_.reset();
    info.GetReturnValue().Set(data->value->Deref());
  }

  void DerefInto(const FunctionCallbackInfo<Value>& info);

  template <Mode M>
  void Copy(const FunctionCallbackInfo<Value>& info) {
    ReferenceDataPtr data = Data();
    auto out = std::make_shared<CopiedValuePtr>();
    auto task = MakeTask(
        [data, out] {
          Isolate* isolate = data->env()->isolate();
          Local<Context> context = data->context->Deref();
          Context::Scope scope(context);
          *out = CopyValue(isolate, context, data->value->Deref());
          (*out)->one_shot = true;
        },
        [out](Isolate* isolate, Local<Context> context) { return (*out)->TransferIn(isolate, context); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  template <Mode M>
  void Get(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ReferenceDataPtr data = Data();
    CopiedValuePtr key = CopyPrimitive(isolate, info[0]);
    if (!key || info[0]->IsUndefined() || info[0]->IsNull()) ThrowTypeError("Invalid `property`");
    TransferOptions options = TransferOptions::Parse(isolate, info[1]);
    bool accessors = OptionBool(isolate, info[1], "accessors");
    auto out = std::make_shared<TransferablePtr>();
    auto task = MakeTask(
        [data, key, options, accessors, out] {
          OnTargetObject(data, [&](Isolate* isolate, Local<Context> context, Local<Object> target) {
            Local<Value> value = ReadProperty(isolate, context, target, key->TransferIn(isolate, context), data->inherit, accessors);
            *out = ::islet::TransferOut(isolate, context, value, options, Fallback::Reference);
          });
        },
        [out](Isolate* isolate, Local<Context> context) { return (*out)->TransferIn(isolate, context); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  template <Mode M>
  void Set(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ReferenceDataPtr data = Data();
    CopiedValuePtr key = CopyPrimitive(isolate, info[0]);
    if (!key || info[0]->IsUndefined() || info[0]->IsNull()) ThrowTypeError("Invalid `property`");
    TransferOptions options = TransferOptions::Parse(isolate, info[2]);
    TransferablePtr value = ::islet::TransferOut(isolate, isolate->GetCurrentContext(), info[1], options, Fallback::Throw, true);
    auto ok = std::make_shared<bool>(false);
    auto task = MakeTask(
        [data, key, value, ok] {
          OnTargetObject(data, [&](Isolate* isolate, Local<Context> context, Local<Object> target) {
            *ok = Check(target->Set(context, key->TransferIn(isolate, context), value->TransferIn(isolate, context)));
          });
        },
        [ok](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Boolean::New(isolate, *ok); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  template <Mode M>
  void Delete(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ReferenceDataPtr data = Data();
    CopiedValuePtr key = CopyPrimitive(isolate, info[0]);
    if (!key) ThrowTypeError("Invalid `property`");
    auto ok = std::make_shared<bool>(false);
    auto task = MakeTask(
        [data, key, ok] {
          OnTargetObject(data, [&](Isolate* isolate, Local<Context> context, Local<Object> target) {
            *ok = Check(target->Delete(context, key->TransferIn(isolate, context)));
          });
        },
        [ok](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Boolean::New(isolate, *ok); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  template <Mode M>
  void Apply(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Local<Context> caller_context = isolate->GetCurrentContext();
    ReferenceDataPtr data = Data();
    Local<Value> options = info[2];
    TransferOptions arg_options = TransferOptions::Parse(isolate, Option(isolate, options, "arguments"));
    TransferOptions result_options = TransferOptions::Parse(isolate, Option(isolate, options, "result"));
    TransferablePtr receiver = ::islet::TransferOut(isolate, caller_context, info[0], TransferOptions{}, Fallback::Throw, true);
    std::vector<TransferablePtr> args;
    if (!info[1]->IsUndefined() && !info[1]->IsNull()) {
      if (!info[1]->IsArray()) ThrowTypeError("`arguments` must be an array");
      Local<v8::Array> array = info[1].As<v8::Array>();
      uint32_t length = array->Length();
      args.reserve(length);
      for (uint32_t i = 0; i < length; ++i) {
        args.push_back(::islet::TransferOut(isolate, caller_context, Check(array->Get(caller_context, i)), arg_options, Fallback::Throw, true));
      }
    }
    auto out = std::make_shared<TransferablePtr>();
    auto task = MakeTask(
        [data, receiver, args = std::move(args), result_options, out] {
          Isolate* isolate = data->env()->isolate();
          Local<Context> context = data->context->Deref();
          Context::Scope scope(context);
          v8::TryCatch try_catch(isolate);
          try {
            Local<Value> fn = data->value->Deref();
            if (!fn->IsFunction()) ThrowTypeError("Reference is not a function");
            Local<Value> argv[8];
            std::vector<Local<Value>> many;
            Local<Value>* args_ptr = argv;
            if (args.size() > 8) {
              many.resize(args.size());
              args_ptr = many.data();
            }
            for (size_t i = 0; i < args.size(); ++i) args_ptr[i] = args[i]->TransferIn(isolate, context);
            Local<Value> result = Check(fn.As<Function>()->Call(context, receiver->TransferIn(isolate, context), int(args.size()), args_ptr));
            *out = ::islet::TransferOut(isolate, context, result, result_options, Fallback::Reference);
          } catch (const JsPending&) {
            ThrowCaught(isolate, context, try_catch);
          }
        },
        [out](Isolate* isolate, Local<Context> context) { return (*out)->TransferIn(isolate, context); });
    task->ReadTimeouts(isolate, options);
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  void ApplySyncPromise(const FunctionCallbackInfo<Value>& info);

 private:
  ReferenceDataPtr data_;
};

// derefInto(): the value itself once it reaches the isolate that owns it.
class DereferenceHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Dereference;
  static constexpr const char* kName = "Dereference";
  explicit DereferenceHandle(ReferenceDataPtr data) : ClassHandle(kId), data_(std::move(data)) {}
  TransferablePtr TransferOut() override {
    class Arrival : public Transferable {
     public:
      explicit Arrival(ReferenceDataPtr data) : data_(std::move(data)) {}
      Local<Value> TransferIn(Isolate*, Local<Context>) override {
        if (data_->env().get() != IsolateEnvironment::Current()) ThrowTypeError("Cannot dereference this into target isolate");
        return data_->value->Deref();
      }

     private:
      ReferenceDataPtr data_;
    };
    if (!data_) ThrowTypeError("The dereferenced handle was already used");
    return std::make_shared<Arrival>(data_);
  }

 private:
  ReferenceDataPtr data_;
};

void ReferenceHandle::DerefInto(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  ReferenceDataPtr data = Data();
  if (OptionBool(isolate, info[0], "release")) data_.reset();
  info.GetReturnValue().Set((new DereferenceHandle(data))->Wrap(isolate, isolate->GetCurrentContext()));
}

// applySyncPromise: a pool thread blocks until a function of Node's isolate settles its Promise.
struct PendingSettle {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  bool rejected = false;
  TransferablePtr value;
  TransferOptions options;
};

void Settle(const FunctionCallbackInfo<Value>& info, bool rejected) {
  Isolate* isolate = info.GetIsolate();
  auto* holder = static_cast<std::shared_ptr<PendingSettle>*>(info.Data().As<v8::External>()->Value());
  std::shared_ptr<PendingSettle> state = *holder;
  TransferablePtr value;
  try {
    value = rejected ? CopyThrown(isolate, isolate->GetCurrentContext(), info[0])
                     : ::islet::TransferOut(isolate, isolate->GetCurrentContext(), info[0], state->options, Fallback::Reference);
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

void ReferenceHandle::ApplySyncPromise(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Local<Context> caller_context = isolate->GetCurrentContext();
  ReferenceDataPtr data = Data();
  IsolateEnvironment* caller = IsolateEnvironment::Current();
  if (!data->env()->is_default()) ThrowTypeError("applySyncPromise may only be used on a function of the default (Node) isolate");
  if (caller->is_default() || data->env()->OnOwnThread()) {
    ThrowError(ErrorClass::Error, "applySyncPromise may not be called from the default thread: run the calling isolate with an async call");
  }
  Local<Value> options = info[2];
  TransferOptions arg_options = TransferOptions::Parse(isolate, Option(isolate, options, "arguments"));
  auto state = std::make_shared<PendingSettle>();
  state->options = TransferOptions::Parse(isolate, Option(isolate, options, "result"));
  TransferablePtr receiver = ::islet::TransferOut(isolate, caller_context, info[0], TransferOptions{}, Fallback::Throw, true);
  std::vector<TransferablePtr> args;
  if (info[1]->IsArray()) {
    Local<v8::Array> array = info[1].As<v8::Array>();
    for (uint32_t i = 0; i < array->Length(); ++i) args.push_back(::islet::TransferOut(isolate, caller_context, Check(array->Get(caller_context, i)), arg_options, Fallback::Throw, true));
  }
  // Phase one on Node's thread: call, then hook the settlement (which happens later on Node's loop).
  auto start = MakeTask(
      [data, receiver, args, state] {
        Isolate* node = data->env()->isolate();
        Local<Context> context = data->context->Deref();
        Context::Scope scope(context);
        v8::TryCatch try_catch(node);
        try {
          Local<Value> fn = data->value->Deref();
          if (!fn->IsFunction()) ThrowTypeError("Reference is not a function");
          std::vector<Local<Value>> argv;
          for (auto& arg : args) argv.push_back(arg->TransferIn(node, context));
          Local<Value> result = Check(fn.As<Function>()->Call(context, receiver->TransferIn(node, context), int(argv.size()), argv.data()));
          auto* holder = new std::shared_ptr<PendingSettle>(state);
          Local<v8::External> external = v8::External::New(node, holder);
          Local<Function> on_fulfilled = Check(Function::New(context, [](const FunctionCallbackInfo<Value>& i) { Settle(i, false); }, external));
          Local<Function> on_rejected = Check(Function::New(context, [](const FunctionCallbackInfo<Value>& i) { Settle(i, true); }, external));
          if (result->IsPromise()) {
            Check(result.As<v8::Promise>()->Then(context, on_fulfilled, on_rejected));
          } else {
            Local<Value> argv1[] = {result};
            Check(on_fulfilled->Call(context, v8::Undefined(node), 1, argv1));
          }
        } catch (const JsPending&) {
          ThrowCaught(node, context, try_catch);
        }
      },
      [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Undefined(isolate); });
  ThreePhaseTask::Execute(Mode::Sync, std::move(start), data->env());
  {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->cv.wait(lock, [&] { return state->done; });
  }
  if (state->rejected) throw ThrownValue{state->value};
  info.GetReturnValue().Set(state->value->TransferIn(isolate, caller_context));
}

}  // namespace

ReferenceDataPtr MakeReferenceData(Isolate* isolate, Local<Context> context, Local<Value> value, bool inherit) {
  auto data = std::make_shared<ReferenceData>();
  EnvPtr env = CurrentEnv();
  data->value = MakeRemote(env, value, true);
  data->context = MakeRemote(env, context);
  data->type = TypeOf(value);
  data->inherit = inherit;
  return data;
}

void ReleaseReference(Isolate* isolate, Local<Value> reference) {
  ClassHandle* handle = ClassHandle::Unwrap(isolate, reference);
  if (handle && handle->id() == ClassId::Reference) static_cast<ReferenceHandle*>(handle)->Drop();
}

ClassHandle* MakeReferenceHandle(ReferenceDataPtr data) { return new ReferenceHandle(std::move(data)); }

Local<Object> NewReference(Isolate* isolate, Local<Context> context, ReferenceDataPtr data) {
  return (new ReferenceHandle(std::move(data)))->Wrap(isolate, context);
}

Local<FunctionTemplate> DefineReference(Isolate* isolate) {
  using R = ReferenceHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "Reference", R::New);
  SetGetter(isolate, tmpl, "typeof", Bind<R, &R::TypeofGetter>);
  SetMethod(isolate, tmpl, "release", Bind<R, &R::Release>);
  SetMethod(isolate, tmpl, "deref", Bind<R, &R::Deref>);
  SetMethod(isolate, tmpl, "derefInto", Bind<R, &R::DerefInto>);
  SetMethod(isolate, tmpl, "copy", Bind<R, &R::Copy<Mode::Async>>);
  SetMethod(isolate, tmpl, "copySync", Bind<R, &R::Copy<Mode::Sync>>);
  SetMethod(isolate, tmpl, "get", Bind<R, &R::Get<Mode::Async>>);
  SetMethod(isolate, tmpl, "getSync", Bind<R, &R::Get<Mode::Sync>>);
  SetMethod(isolate, tmpl, "set", Bind<R, &R::Set<Mode::Async>>);
  SetMethod(isolate, tmpl, "setSync", Bind<R, &R::Set<Mode::Sync>>);
  SetMethod(isolate, tmpl, "setIgnored", Bind<R, &R::Set<Mode::Ignored>>);
  SetMethod(isolate, tmpl, "delete", Bind<R, &R::Delete<Mode::Async>>);
  SetMethod(isolate, tmpl, "deleteSync", Bind<R, &R::Delete<Mode::Sync>>);
  SetMethod(isolate, tmpl, "deleteIgnored", Bind<R, &R::Delete<Mode::Ignored>>);
  SetMethod(isolate, tmpl, "apply", Bind<R, &R::Apply<Mode::Async>>);
  SetMethod(isolate, tmpl, "applySync", Bind<R, &R::Apply<Mode::Sync>>);
  SetMethod(isolate, tmpl, "applyIgnored", Bind<R, &R::Apply<Mode::Ignored>>);
  SetMethod(isolate, tmpl, "applySyncPromise", Bind<R, &R::ApplySyncPromise>);
  return tmpl;
}

Local<FunctionTemplate> DefineDereference(Isolate* isolate) {
  return NewClassTemplate(isolate, "Dereference", PrivateConstructor);
}

}  // namespace islet
