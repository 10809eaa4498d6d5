// ClassHandle: wrapping, unwrapping and the lifetime of islet objects in any isolate; plus the
// option parsers every class shares (script origin, cached data).
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

}  // namespace

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
    case ClassId::Isolate: tmpl = DefineIsolate(isolate); break;
    case ClassId::Context: tmpl = DefineContext(isolate); break;
    case ClassId::Script: tmpl = DefineScript(isolate); break;
    case ClassId::Module: tmpl = DefineModule(isolate); break;
    case ClassId::Reference: tmpl = DefineReference(isolate); break;
    case ClassId::ExternalCopy: tmpl = DefineExternalCopy(isolate); break;
    case ClassId::Callback: tmpl = DefineCallback(isolate); break;
    case ClassId::Dereference: tmpl = DefineDereference(isolate); break;
    case ClassId::CopyInto: tmpl = DefineCopyInto(isolate); break;
    case ClassId::InspectorSession: tmpl = DefineInspectorSession(isolate); break;
    default: ThrowTypeError("unknown class");
  }
  slot.Set(isolate, tmpl);
  return tmpl;
}

EnvPtr CurrentEnv() {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  return env->shared_from_this();
}

TransferablePtr HandleTransfer(std::function<ClassHandle*()> make) { return std::make_shared<HandleTransferable>(std::move(make)); }

Local<FunctionTemplate> NewClassTemplate(Isolate* isolate, const char* name, v8::FunctionCallback constructor) {
  Local<FunctionTemplate> tmpl = FunctionTemplate::New(isolate, constructor);
  tmpl->SetClassName(V8Symbol(isolate, name));
  tmpl->InstanceTemplate()->SetInternalFieldCount(2);
  return tmpl;
}

void SetMethod(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback callback) {
  Local<FunctionTemplate> fn = FunctionTemplate::New(isolate, callback, Local<Value>(), Local<v8::Signature>(), 0, v8::ConstructorBehavior::kThrow);
  tmpl->PrototypeTemplate()->Set(V8Symbol(isolate, name), fn);
}

void SetGetter(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback getter) {
  Local<FunctionTemplate> fn = FunctionTemplate::New(isolate, getter, Local<Value>(), Local<v8::Signature>(), 0, v8::ConstructorBehavior::kThrow);
  tmpl->PrototypeTemplate()->SetAccessorProperty(V8Symbol(isolate, name), fn);
}

void PrivateConstructor(const FunctionCallbackInfo<Value>& info) {
  info.GetIsolate()->ThrowException(v8::Exception::TypeError(V8String(info.GetIsolate(), "Constructor is private")));
}

ScriptOriginOptions ScriptOriginOptions::Parse(Isolate* isolate, Local<Value> options) {
  ScriptOriginOptions out;
  Local<Value> filename = Option(isolate, options, "filename");
  if (!filename->IsUndefined()) {
    if (!filename->IsString()) ThrowTypeError("`filename` must be a string");
    out.filename = ToUtf8(isolate, filename);
  }
  Local<Value> line = Option(isolate, options, "lineOffset");
  if (!line->IsUndefined()) {
    if (!line->IsInt32()) ThrowTypeError("`lineOffset` must be an integer");
    out.line_offset = line.As<v8::Int32>()->Value();
  }
  Local<Value> column = Option(isolate, options, "columnOffset");
  if (!column->IsUndefined()) {
    if (!column->IsInt32()) ThrowTypeError("`columnOffset` must be an integer");
    out.column_offset = column.As<v8::Int32>()->Value();
  }
  return out;
}

v8::ScriptOrigin ScriptOriginOptions::ToOrigin(Isolate* isolate, bool is_module) const {
  return v8::ScriptOrigin(isolate, V8String(isolate, filename), line_offset, column_offset, false, -1, Local<Value>(), false, false, is_module);
}

CachedDataOptions CachedDataOptions::Parse(Isolate* isolate, Local<Value> options) {
  CachedDataOptions out;
  Local<Value> cached = Option(isolate, options, "cachedData");
  if (!cached->IsUndefined()) {
    ClassHandle* handle = ClassHandle::Unwrap(isolate, cached);
    if (!handle || handle->id() != ClassId::ExternalCopy) ThrowTypeError("`cachedData` must be an ExternalCopy of an ArrayBuffer");
    out.cached_data = ExternalCopyValue(handle);
    if (!out.cached_data || !BackingStoreOf(*out.cached_data)) ThrowTypeError("`cachedData` must be an ExternalCopy of an ArrayBuffer");
  }
  out.produce = OptionBool(isolate, options, "produceCachedData");
  return out;
}

void CachedDataResult::Apply(Isolate* isolate, Local<Context> context, Local<Object> target) const {
  if (has_rejected) (void)target->Set(context, V8Symbol(isolate, "cachedDataRejected"), v8::Boolean::New(isolate, rejected));
  if (produced) (void)target->Set(context, V8Symbol(isolate, "cachedData"), NewExternalCopy(isolate, context, produced));
}

}  // namespace islet
