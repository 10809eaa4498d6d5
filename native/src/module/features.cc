// The features' options and methods on the Isolate and Context classes (see features.h), and
// Isolate._createSnapshot.
#include "module/features.h"

#include "isolate/async_context.h"
#include "isolate/promise_rejections.h"
#include "isolate/snapshot.h"

namespace islet {
namespace {

// Isolate._createSnapshot(scripts, warmupScript?) → ExternalCopy<ArrayBuffer>, in this process.
void CreateSnapshot(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    Local<Context> context = isolate->GetCurrentContext();
    node::Environment* node_env = node::GetCurrentEnvironment(context);
    if (!node_env) ThrowTypeError("Isolate.createSnapshot() can only be called from Node.js, not inside an isolate");
    auto read_source = [&](Local<Value> value, const std::string& where) {
      if (!value->IsObject())
        ThrowTypeError(where + " must be an object { code, filename?, lineOffset?, columnOffset? }");
      SnapshotSource source;
      Local<Value> code = Option(isolate, value, "code");
      if (!code->IsString()) ThrowTypeError(where + ".code must be a string");
      source.code = ToUtf8(isolate, code);
      ScriptOriginOptions origin = ScriptOriginOptions::Parse(isolate, value);
      if (!Option(isolate, value, "filename")->IsUndefined()) source.filename = origin.filename;
      source.line_offset = origin.line_offset;
      source.column_offset = origin.column_offset;
      return source;
    };
    if (!info[0]->IsArray())
      ThrowTypeError("createSnapshot(scripts): `scripts` must be an array of { code, filename? }");
    Local<v8::Array> array = info[0].As<v8::Array>();
    std::vector<SnapshotSource> scripts;
    for (uint32_t i = 0; i < array->Length(); ++i) {
      scripts.push_back(read_source(Check(array->Get(context, i)), "scripts[" + std::to_string(i) + "]"));
    }
    std::optional<SnapshotSource> warmup;
    if (!info[1]->IsUndefined()) {
      if (info[1]->IsString()) {
        warmup.emplace();
        warmup->code = ToUtf8(isolate, info[1]);
        warmup->filename = "<isolated-vm>";  // the default file name of any script
      } else {
        warmup = read_source(info[1], "warmupScript");
      }
    }
    std::vector<uint8_t> bytes =
        MakeSnapshot(node::GetMultiIsolatePlatform(node_env), scripts, warmup ? &*warmup : nullptr);
    info.GetReturnValue().Set(NewExternalCopy(isolate, context, CopyBytes(bytes.data(), bytes.size())));
  });
}

}  // namespace

IsolateFeatures IsolateFeatures::Parse(Isolate* isolate, Local<Value> options,
                                       IsolateEnvironment::Options& env_options) {
  IsolateFeatures out;
  Local<Value> inspector = Option(isolate, options, "inspector");
  if (!inspector->IsUndefined()) {
    if (!inspector->IsBoolean()) ThrowTypeError("`inspector` must be a boolean");
    out.inspector = inspector.As<v8::Boolean>()->Value();
  }
  Local<Value> snapshot = Option(isolate, options, "snapshot");
  if (!snapshot->IsUndefined()) {
    std::shared_ptr<v8::BackingStore> store;
    if (ClassHandle* handle = ClassHandle::Unwrap(isolate, snapshot)) {
      CopiedValuePtr copy = ExternalCopyValue(handle);
      if (copy) store = BackingStoreOf(*copy);
      // An ExternalCopy of a Uint8Array (the bytes read from a file): take its bytes below.
      if (copy && !store) snapshot = copy->CopyIn(isolate, isolate->GetCurrentContext(), false);
    }
    if (store) {
    } else if (snapshot->IsArrayBuffer()) {
      store = snapshot.As<v8::ArrayBuffer>()->GetBackingStore();
    } else if (snapshot->IsArrayBufferView()) {
      // A Buffer read from a file: its bytes, copied (a view may cover part of a larger buffer).
      Local<v8::ArrayBufferView> view = snapshot.As<v8::ArrayBufferView>();
      std::vector<uint8_t> bytes(view->ByteLength());
      if (!bytes.empty()) view->CopyContents(bytes.data(), bytes.size());
      store = BackingStoreOf(*CopyBytes(bytes.data(), bytes.size()));
    }
    if (!store) {
      ThrowTypeError(
          "`snapshot` must be the ExternalCopy returned by Isolate.createSnapshot() (or its bytes: an ArrayBuffer or "
          "Uint8Array)");
    }
    env_options.snapshot = OpenSnapshot(store);
    env_options.external_references = SnapshotExternalReferences();
  }
  return out;
}

void IsolateFeatures::Apply(const EnvPtr& env) const {
  if (inspector) EnableInspector(env);
}

ContextFeatures ContextFeatures::Parse(Isolate* isolate, Local<Value> options, const EnvPtr& env) {
  ContextFeatures out;
  Local<Value> inspector = Option(isolate, options, "inspector");
  if (!inspector->IsUndefined()) {
    if (!inspector->IsBoolean()) ThrowTypeError("`inspector` must be a boolean");
    out.inspector = inspector.As<v8::Boolean>()->Value();
    if (out.inspector && !env->GetFeature(FeatureId::Inspector)) {
      ThrowTypeError("createContext({ inspector: true }) needs an isolate made with new Isolate({ inspector: true })");
    }
  }
  Local<Value> async_context = Option(isolate, options, "asyncContext");
  if (!async_context->IsUndefined()) {
    if (!async_context->IsBoolean()) ThrowTypeError("`asyncContext` must be a boolean");
    out.async_context = async_context.As<v8::Boolean>()->Value();
  }
  Local<Value> promise_rejections = Option(isolate, options, "promiseRejections");
  if (!promise_rejections->IsUndefined()) {
    if (!promise_rejections->IsBoolean()) ThrowTypeError("`promiseRejections` must be a boolean");
    out.promise_rejections = promise_rejections.As<v8::Boolean>()->Value();
  }
  return out;
}

void ContextFeatures::Apply(const EnvPtr& env, Local<Context> context) const {
  Isolate* isolate = env->isolate();
  if (async_context) {
    Context::Scope scope(context);
    InstallAsyncContext(isolate, context);
  }
  if (promise_rejections) {
    Context::Scope scope(context);
    InstallPromiseRejections(isolate, context);
  }
  if (inspector) InspectContext(env, context);
}

void AddIsolateFeatureMethods(Isolate* isolate, Local<FunctionTemplate> tmpl) {
  SetMethod(isolate, tmpl, "startCpuProfiler", StartCpuProfiler);
  SetMethod(isolate, tmpl, "stopCpuProfiler", StopCpuProfiler);
  SetMethod(isolate, tmpl, "createInspectorSession", CreateInspectorSession);
  tmpl->Set(V8Symbol(isolate, "_createSnapshot"), FunctionTemplate::New(isolate, CreateSnapshot));
}

}  // namespace islet
