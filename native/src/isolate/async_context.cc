// The get()/set() pair of islet's async context (see async_context.h).
#include "isolate/async_context.h"

namespace islet {
namespace {

// V8 11 keeps the value per native context; V8 12 moved it to the isolate.
Local<Value> CurrentValue(Isolate* isolate) {
#if V8_MAJOR_VERSION >= 12
  return isolate->GetContinuationPreservedEmbedderData();
#else
  return isolate->GetCurrentContext()->GetContinuationPreservedEmbedderData();
#endif
}

void SetValue(Isolate* isolate, Local<Value> value) {
#if V8_MAJOR_VERSION >= 12
  isolate->SetContinuationPreservedEmbedderData(value);
#else
  isolate->GetCurrentContext()->SetContinuationPreservedEmbedderData(value);
#endif
}

void Get(const FunctionCallbackInfo<Value>& info) { info.GetReturnValue().Set(CurrentValue(info.GetIsolate())); }

// set(value) returns the value it replaced, so `run` is `const prev = set(v); try {…} finally { set(prev) }`.
void Set(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Local<Value> previous = CurrentValue(isolate);
  SetValue(isolate, info[0]);
  info.GetReturnValue().Set(previous);
}

const intptr_t kExternalReferences[] = {
    reinterpret_cast<intptr_t>(&Get),
    reinterpret_cast<intptr_t>(&Set),
    0,
};

}  // namespace

const intptr_t* AsyncContextExternalReferences() { return kExternalReferences; }

void InstallAsyncContext(Isolate* isolate, Local<Context> context) {
  Local<Object> holder = Object::New(isolate);
  auto method = [&](const char* name, v8::FunctionCallback callback, int length) {
    Local<Function> fn =
        Check(Function::New(context, callback, Local<Value>(), length, v8::ConstructorBehavior::kThrow));
    fn->SetName(V8Symbol(isolate, name));
    Check(holder->DefineOwnProperty(context, V8Symbol(isolate, name), fn, v8::ReadOnly));
  };
  method("get", Get, 0);
  method("set", Set, 1);
  (void)holder->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen);
  Check(context->Global()->DefineOwnProperty(context, V8Symbol(isolate, kAsyncContextGlobal), holder, v8::DontEnum));
}

}  // namespace islet
