// ClassHandle: wrapping, unwrapping and the lifetime of islet objects in any isolate, and the
// template helpers every class is defined with.
#include "module/handles.h"

#include "isolate/scope.h"

namespace islet {
namespace {

int kMagic = 0x15137;  // marks islet wrappers in internal field 0

class HandleTransferable : public Transferable {
 public:
  explicit HandleTransferable(std::function<ClassHandle*()> make) : make_(std::move(make)) {}
  Local<Value> TransferIn(Isolate* isolate, Local<Context> context) override { return make_()->Wrap(isolate, context); }

 private:
  std::function<ClassHandle*()> make_;
};

// Keeps the data of a function made by NewFunctionWithData.
class FunctionData : public ClassHandle {
 public:
  explicit FunctionData(std::shared_ptr<void> data) : ClassHandle(ClassId::Internal), data(std::move(data)) {}
  TransferablePtr TransferOut() override { ThrowTypeError("internal function data is not transferable"); }
  std::shared_ptr<void> data;
};

}  // namespace

Local<Function> NewFunctionWithData(Isolate* isolate, Local<Context> context, v8::FunctionCallback callback,
                                    std::shared_ptr<void> data) {
  auto* holder = new FunctionData(std::move(data));
  Local<Function> fn;
  if (!Function::New(context, callback, v8::External::New(isolate, holder)).ToLocal(&fn)) {
    delete holder;
    throw JsPending{};
  }
  holder->Attach(*CurrentEnv(), fn);
  return fn;
}

std::shared_ptr<void> FunctionDataOf(const FunctionCallbackInfo<Value>& info) {
  return static_cast<FunctionData*>(info.Data().As<v8::External>()->Value())->data;
}

ClassHandle::~ClassHandle() {
  if (owner_) {
    owner_->UntrackWrapper(this);
    // Deleted from the weak callback (the handle is already reset) or with the isolate locked.
    if (!wrapper_.IsEmpty()) wrapper_.Reset();
  }
}

Local<Object> ClassHandle::Wrap(Isolate* isolate, Local<Context> context) {
  Local<FunctionTemplate> tmpl = Template(isolate, id_);
  Local<Object> object;
  if (!tmpl->InstanceTemplate()->NewInstance(context).ToLocal(&object)) {
    delete this;
    throw JsPending{};
  }
  object->SetAlignedPointerInInternalField(0, &kMagic);
  object->SetAlignedPointerInInternalField(1, this);
  Attach(*CurrentEnv(), object);
  return object;
}

void ClassHandle::Adopt(Isolate*, Local<Object> object) {
  object->SetAlignedPointerInInternalField(0, &kMagic);
  object->SetAlignedPointerInInternalField(1, this);
  Attach(*CurrentEnv(), object);
}

void ClassHandle::Attach(IsolateEnvironment& env, Local<Object> object) {
  owner_ = &env;
  wrapper_.Reset(env.isolate(), object);
  wrapper_.SetWeak(this, OnWeak, v8::WeakCallbackType::kParameter);
  env.TrackWrapper(this);
}

void ClassHandle::OnWeak(const v8::WeakCallbackInfo<ClassHandle>& info) {
  ClassHandle* self = info.GetParameter();
  self->wrapper_.Reset();
  // Deleting may release other handles (V8 calls): do it in the second pass.
  info.SetSecondPassCallback([](const v8::WeakCallbackInfo<ClassHandle>& second) { delete second.GetParameter(); });
}

ClassHandle* ClassHandle::Unwrap(Isolate*, Local<Value> value) {
  if (value.IsEmpty() || !value->IsObject()) return nullptr;
  Local<Object> object = value.As<Object>();
  if (object->InternalFieldCount() != 2) return nullptr;
  if (object->GetAlignedPointerFromInternalField(0) != &kMagic) return nullptr;
  return static_cast<ClassHandle*>(object->GetAlignedPointerFromInternalField(1));
}

Local<FunctionTemplate> ClassHandle::Template(Isolate* isolate, ClassId id) {
  IsolateEnvironment& env = *CurrentEnv();
  auto& slot = env.Template(id);
  if (!slot.IsEmpty()) return slot.Get(isolate);
  Local<FunctionTemplate> tmpl;
  switch (id) {
    case ClassId::Isolate:
      tmpl = DefineIsolate(isolate);
      break;
    case ClassId::Context:
      tmpl = DefineContext(isolate);
      break;
    case ClassId::Script:
      tmpl = DefineScript(isolate);
      break;
    case ClassId::Module:
      tmpl = DefineModule(isolate);
      break;
    case ClassId::Reference:
      tmpl = DefineReference(isolate);
      break;
    case ClassId::ExternalCopy:
      tmpl = DefineExternalCopy(isolate);
      break;
    case ClassId::Callback:
      tmpl = DefineCallback(isolate);
      break;
    case ClassId::Dereference:
      tmpl = DefineDereference(isolate);
      break;
    case ClassId::CopyInto:
      tmpl = DefineCopyInto(isolate);
      break;
    case ClassId::Library:
      tmpl = DefineLibrary(isolate);
      break;
    case ClassId::InspectorSession:
      tmpl = DefineInspectorSession(isolate);
      break;
    default:
      ThrowTypeError("unknown class");
  }
  slot.Set(isolate, tmpl);
  return tmpl;
}

EnvPtr CurrentEnv() {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  return env->shared_from_this();
}

TransferablePtr HandleTransfer(std::function<ClassHandle*()> make) {
  return std::make_shared<HandleTransferable>(std::move(make));
}

namespace {
constexpr auto kFixed = static_cast<v8::PropertyAttribute>(v8::ReadOnly | v8::DontDelete);
}  // namespace

Local<FunctionTemplate> NewClassTemplate(Isolate* isolate, const char* name, v8::FunctionCallback constructor) {
  Local<FunctionTemplate> tmpl = FunctionTemplate::New(isolate, constructor);
  tmpl->SetClassName(V8Symbol(isolate, name));
  tmpl->ReadOnlyPrototype();
  tmpl->InstanceTemplate()->SetInternalFieldCount(2);
  tmpl->InstanceTemplate()->SetImmutableProto();
  return tmpl;
}

void SetMethod(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback callback) {
  Local<FunctionTemplate> fn = FunctionTemplate::New(isolate, callback, Local<Value>(), Local<v8::Signature>(), 0,
                                                     v8::ConstructorBehavior::kThrow);
  fn->SetClassName(V8Symbol(isolate, name));
  tmpl->PrototypeTemplate()->Set(V8Symbol(isolate, name), fn, kFixed);
}

void SetGetter(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback getter) {
  Local<FunctionTemplate> fn = FunctionTemplate::New(isolate, getter, Local<Value>(), Local<v8::Signature>(), 0,
                                                     v8::ConstructorBehavior::kThrow);
  tmpl->PrototypeTemplate()->SetAccessorProperty(V8Symbol(isolate, name), fn, Local<FunctionTemplate>(),
                                                 v8::DontDelete);
}

void SetStaticMethod(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback callback) {
  Local<FunctionTemplate> fn = FunctionTemplate::New(isolate, callback, Local<Value>(), Local<v8::Signature>(), 0,
                                                     v8::ConstructorBehavior::kThrow);
  fn->SetClassName(V8Symbol(isolate, name));
  tmpl->Set(V8Symbol(isolate, name), fn, kFixed);
}

void SetStaticGetter(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback getter) {
  Local<FunctionTemplate> fn = FunctionTemplate::New(isolate, getter, Local<Value>(), Local<v8::Signature>(), 0,
                                                     v8::ConstructorBehavior::kThrow);
  tmpl->SetAccessorProperty(V8Symbol(isolate, name), fn, Local<FunctionTemplate>(), v8::DontDelete);
}

void RejectInstead(const FunctionCallbackInfo<Value>& info, v8::TryCatch& try_catch) {
  Isolate* isolate = info.GetIsolate();
  if (try_catch.HasTerminated() || !try_catch.CanContinue()) {
    try_catch.ReThrow();
    return;
  }
  Local<Value> error = try_catch.Exception();
  try_catch.Reset();
  Local<Context> context = isolate->GetCurrentContext();
  Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return;
  (void)resolver->Reject(context, error);
  info.GetReturnValue().Set(resolver->GetPromise());
}

void PrivateConstructor(const FunctionCallbackInfo<Value>& info) {
  info.GetIsolate()->ThrowException(v8::Exception::TypeError(V8String(info.GetIsolate(), "Constructor is private")));
}

}  // namespace islet
