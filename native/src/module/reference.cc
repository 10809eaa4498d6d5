// Reference: a handle to a value living in one isolate, usable from any isolate. Also the
// objects returned by `derefInto()` (Dereference), which become the value when they arrive in
// the isolate that owns it (once).
#include "module/handles.h"

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

// get/set/delete never run a Proxy's traps: the target and its prototype chain must have none.
void RefuseProxies(Local<Object> object) {
  for (Local<Value> next = object; next->IsObject(); next = next.As<Object>()->GetPrototype()) {
    if (next->IsProxy()) ThrowTypeError("Object is or has proxy");
  }
}

// Reads a property the way `get` allows: data properties only (own ones, or inherited with
// `unsafeInherit`), unless the caller opted into accessors.
Local<Value> ReadProperty(Isolate* isolate, Local<Context> context, Local<Object> object, Local<v8::Name> name,
                          bool inherit, bool accessors) {
  if (accessors) {
    if (!inherit && !Check(object->HasOwnProperty(context, name))) return v8::Undefined(isolate);
    return Check(object->Get(context, name));
  }
  for (Local<Object> holder = object;;) {
    Local<Value> descriptor = Check(holder->GetOwnPropertyDescriptor(context, name));
    if (!descriptor->IsUndefined()) {
      Local<Object> desc = descriptor.As<Object>();
      if (!Check(desc->Get(context, V8Symbol(isolate, "get")))->IsUndefined() ||
          !Check(desc->Get(context, V8Symbol(isolate, "set")))->IsUndefined()) {
        ThrowTypeError("Property is a getter or setter; pass `accessors: true` to invoke it");
      }
      return Check(desc->Get(context, V8Symbol(isolate, "value")));
    }
    Local<Value> next = holder->GetPrototype();
    if (!inherit || !next->IsObject()) return v8::Undefined(isolate);
    holder = next.As<Object>();
  }
}

// A property key as the API accepts it: a string, a symbol or an array index.
CopiedValuePtr PropertyKey(Isolate* isolate, Local<Value> key) {
  if (!key->IsString() && !key->IsUint32())
    ThrowTypeError("Invalid `key`: a property name must be a string or an array index");
  return CopyPrimitive(isolate, key);
}

Local<v8::Name> KeyIn(Isolate* isolate, Local<Context> context, const CopiedValuePtr& key) {
  Local<Value> value = key->TransferIn(isolate, context);
  return value->IsName() ? value.As<v8::Name>() : Check(value->ToString(context)).As<v8::Name>();
}

// Runs `operation` on the referenced object inside its own context (get, set and delete): a
// JavaScript exception it raises is carried back to the caller's isolate.
template <typename Operation>
void OnTargetObject(const ReferenceDataPtr& data, Operation operation) {
  Isolate* isolate = data->env()->isolate();
  Local<Context> context = data->context->Deref();
  InContext(isolate, context, [&] {
    Local<Value> target = data->value->Deref();
    if (!target->IsObject()) ThrowTypeError("Reference is not an object");
    RefuseProxies(target.As<Object>());
    operation(isolate, context, target.As<Object>());
  });
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
      CheckOptions(info[1], "options");
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
    if (data->env().get() != IsolateEnvironment::Current())
      ThrowTypeError("Cannot dereference this from current isolate");
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
          InContext(isolate, context, [&] {
            *out = CopyValue(isolate, context, data->value->Deref());
            (*out)->one_shot = true;
          });
        },
        [out](Isolate* isolate, Local<Context> context) { return (*out)->TransferIn(isolate, context); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  template <Mode M>
  void Get(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ReferenceDataPtr data = Data();
    CopiedValuePtr key = PropertyKey(isolate, info[0]);
    CheckOptions(info[1], "options");
    TransferOptions options = TransferOptions::Parse(isolate, info[1]);
    options.inherit = data->inherit;  // what is read through an unsafeInherit Reference inherits too
    bool accessors = OptionBool(isolate, info[1], "accessors");
    auto out = std::make_shared<TransferablePtr>();
    auto task = MakeTask(
        [data, key, options, accessors, out] {
          OnTargetObject(data, [&](Isolate* isolate, Local<Context> context, Local<Object> target) {
            Local<Value> value =
                ReadProperty(isolate, context, target, KeyIn(isolate, context, key), data->inherit, accessors);
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
    CopiedValuePtr key = PropertyKey(isolate, info[0]);
    CheckOptions(info[2], "options");
    TransferOptions options = TransferOptions::Parse(isolate, info[2]);
    TransferablePtr value =
        ::islet::TransferOut(isolate, isolate->GetCurrentContext(), info[1], options, Fallback::Throw, true);
    auto task = MakeTask(
        [data, key, value] {
          OnTargetObject(data, [&](Isolate* isolate, Local<Context> context, Local<Object> target) {
            // An own data property, whatever the object had: no setter runs (the old value is
            // dropped first, which may free heap for the new one).
            Local<v8::Name> name = KeyIn(isolate, context, key);
            Check(target->Delete(context, name));
            if (!Check(target->CreateDataProperty(context, name, value->TransferIn(isolate, context))))
              ThrowTypeError("Set failed");
          });
        },
        [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::True(isolate); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  template <Mode M>
  void Delete(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ReferenceDataPtr data = Data();
    CopiedValuePtr key = PropertyKey(isolate, info[0]);
    auto task = MakeTask(
        [data, key] {
          OnTargetObject(data, [&](Isolate* isolate, Local<Context> context, Local<Object> target) {
            if (!Check(target->Delete(context, KeyIn(isolate, context, key)))) ThrowTypeError("Delete failed");
          });
        },
        [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::True(isolate); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  template <Mode M>
  void Apply(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Local<Context> caller_context = isolate->GetCurrentContext();
    ReferenceDataPtr data = Data();
    Local<Value> options = info[2];
    CheckOptions(options, "options");
    TransferOptions arg_options = TransferOptions::Parse(isolate, Option(isolate, options, "arguments"));
    TransferOptions result_options = TransferOptions::Parse(isolate, Option(isolate, options, "result"));
    TransferablePtr receiver =
        ::islet::TransferOut(isolate, caller_context, info[0], TransferOptions{}, Fallback::Throw, true);
    std::vector<TransferablePtr> args = TransferArguments(isolate, caller_context, info[1], arg_options);
    auto out = std::make_shared<TransferablePtr>();
    auto task = MakeTask(
        [data, receiver, args = std::move(args), result_options, out] {
          Isolate* isolate = data->env()->isolate();
          Local<Context> context = data->context->Deref();
          InContext(isolate, context, [&] {
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
            Local<Value> self = receiver->TransferIn(isolate, context);
            Local<Value> result = Check(fn.As<Function>()->Call(context, self, int(args.size()), args_ptr));
            *out = ::islet::TransferOut(isolate, context, result, result_options, Fallback::Reference);
          });
        },
        [out](Isolate* isolate, Local<Context> context) { return (*out)->TransferIn(isolate, context); });
    task->ReadTimeouts(isolate, options);
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), data->env()));
  }

  void ApplySyncPromise(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(::islet::ApplySyncPromise(info, Data()));
  }

 private:
  ReferenceDataPtr data_;
};

// derefInto(): the value itself once it reaches the isolate that owns it; usable once.
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
        if (data_->env().get() != IsolateEnvironment::Current())
          ThrowTypeError("Cannot dereference this into target isolate");
        return data_->value->Deref();
      }

     private:
      ReferenceDataPtr data_;
    };
    if (!data_) ThrowError(ErrorClass::Error, "The return value of `derefInto()` should only be used once");
    return std::make_shared<Arrival>(std::move(data_));
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
  SetMethod(isolate, tmpl, "copy", BindAsync<R, &R::Copy<Mode::Async>>);
  SetMethod(isolate, tmpl, "copySync", Bind<R, &R::Copy<Mode::Sync>>);
  SetMethod(isolate, tmpl, "get", BindAsync<R, &R::Get<Mode::Async>>);
  SetMethod(isolate, tmpl, "getSync", Bind<R, &R::Get<Mode::Sync>>);
  SetMethod(isolate, tmpl, "set", BindAsync<R, &R::Set<Mode::Async>>);
  SetMethod(isolate, tmpl, "setSync", Bind<R, &R::Set<Mode::Sync>>);
  SetMethod(isolate, tmpl, "setIgnored", Bind<R, &R::Set<Mode::Ignored>>);
  SetMethod(isolate, tmpl, "delete", BindAsync<R, &R::Delete<Mode::Async>>);
  SetMethod(isolate, tmpl, "deleteSync", Bind<R, &R::Delete<Mode::Sync>>);
  SetMethod(isolate, tmpl, "deleteIgnored", Bind<R, &R::Delete<Mode::Ignored>>);
  SetMethod(isolate, tmpl, "apply", BindAsync<R, &R::Apply<Mode::Async>>);
  SetMethod(isolate, tmpl, "applySync", Bind<R, &R::Apply<Mode::Sync>>);
  SetMethod(isolate, tmpl, "applyIgnored", Bind<R, &R::Apply<Mode::Ignored>>);
  SetMethod(isolate, tmpl, "applySyncPromise", Bind<R, &R::ApplySyncPromise>);
  return tmpl;
}

Local<FunctionTemplate> DefineDereference(Isolate* isolate) {
  return NewClassTemplate(isolate, "Dereference", PrivateConstructor);
}

}  // namespace islet
