// The promise rejection notifications of islet's contexts (see
// promise_rejections.h).
#include "isolate/promise_rejections.h"

namespace islet {
namespace {

Local<v8::Private> HandlerKey(Isolate* isolate) {
  return v8::Private::ForApi(isolate, V8Symbol(isolate, "islet:promiseRejections"));
}

}  // namespace

// Called by the isolate's promise rejection callback (limits.cc): finds the handler of the
// promise's own context and calls it. It runs in the middle of V8's promise machinery (as
// Node's does): the handler must not throw, and whatever it throws is dropped here.
bool DispatchPromiseRejection(v8::PromiseRejectMessage& message) {
  v8::PromiseRejectEvent event = message.GetEvent();
  if (event != v8::kPromiseRejectWithNoHandler && event != v8::kPromiseHandlerAddedAfterReject) return false;
  Local<v8::Promise> promise = message.GetPromise();
  Isolate* isolate = promise->GetIsolate();
  HandleScope scope(isolate);
  Local<Context> context;
  if (!promise->GetCreationContext().ToLocal(&context)) return false;
  Local<Value> handler;
  if (!context->Global()->GetPrivate(context, HandlerKey(isolate)).ToLocal(&handler) || !handler->IsFunction()) {
    return false;
  }
  if (isolate->IsExecutionTerminating()) return true;
  Context::Scope context_scope(context);
  Local<Value> reason = v8::Undefined(isolate);
  if (event == v8::kPromiseRejectWithNoHandler && !message.GetValue().IsEmpty()) reason = message.GetValue();
  Local<Value> args[] = {v8::Integer::New(isolate, event == v8::kPromiseRejectWithNoHandler ? 0 : 1), promise, reason};
  v8::TryCatch try_catch(isolate);
  (void)handler.As<Function>()->Call(context, v8::Undefined(isolate), 3, args);
  return true;
}

namespace {

// __isletPromiseRejections(handler): sets this context's handler (the isolate's callback,
// installed with its limits, finds it).
void SetHandler(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsFunction()) {
    isolate->ThrowException(
        v8::Exception::TypeError(V8Symbol(isolate, "__isletPromiseRejections: the handler must be a function")));
    return;
  }
  Local<Context> context = isolate->GetCurrentContext();
  (void)context->Global()->SetPrivate(context, HandlerKey(isolate), info[0]);
}

const intptr_t kExternalReferences[] = {
    reinterpret_cast<intptr_t>(&SetHandler),
    0,
};

}  // namespace

const intptr_t* PromiseRejectionsExternalReferences() { return kExternalReferences; }

void InstallPromiseRejections(Isolate* isolate, Local<Context> context) {
  Local<Function> fn = Check(Function::New(context, SetHandler, Local<Value>(), 1, v8::ConstructorBehavior::kThrow));
  fn->SetName(V8Symbol(isolate, kPromiseRejectionsGlobal));
  Check(context->Global()->DefineOwnProperty(context, V8Symbol(isolate, kPromiseRejectionsGlobal), fn, v8::DontEnum));
}

}  // namespace islet
