// The promise rejection notifications of islet's contexts (see
// promise_rejections.h).
#include "isolate/promise_rejections.h"

namespace islet {
namespace {

Local<v8::Private> HandlerKey(Isolate* isolate) {
  return v8::Private::ForApi(isolate, V8Symbol(isolate, "islet:promiseRejections"));
}

// V8's callback: finds the handler of the promise's own context and calls it.
// It runs in the middle of V8's promise machinery (as Node's does): the handler
// must not throw, and whatever it throws is dropped here.
void OnPromiseReject(v8::PromiseRejectMessage message) {
  v8::PromiseRejectEvent event = message.GetEvent();
  if (event != v8::kPromiseRejectWithNoHandler && event != v8::kPromiseHandlerAddedAfterReject) return;
  Local<v8::Promise> promise = message.GetPromise();
  Isolate* isolate = promise->GetIsolate();
  if (isolate->IsExecutionTerminating()) return;
  HandleScope scope(isolate);
  Local<Context> context;
  if (!promise->GetCreationContext().ToLocal(&context)) return;
  Context::Scope context_scope(context);
  Local<Value> handler;
  if (!context->Global()->GetPrivate(context, HandlerKey(isolate)).ToLocal(&handler) || !handler->IsFunction()) return;
  Local<Value> reason = v8::Undefined(isolate);
  if (event == v8::kPromiseRejectWithNoHandler && !message.GetValue().IsEmpty()) reason = message.GetValue();
  Local<Value> args[] = {v8::Integer::New(isolate, event == v8::kPromiseRejectWithNoHandler ? 0 : 1), promise, reason};
  v8::TryCatch try_catch(isolate);
  (void)handler.As<Function>()->Call(context, v8::Undefined(isolate), 3, args);
}

// __isletPromiseRejections(handler): sets this context's handler and turns the
// isolate's callback on.
void SetHandler(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsFunction()) {
    isolate->ThrowException(
        v8::Exception::TypeError(V8Symbol(isolate, "__isletPromiseRejections: the handler must be a function")));
    return;
  }
  Local<Context> context = isolate->GetCurrentContext();
  if (!context->Global()->SetPrivate(context, HandlerKey(isolate), info[0]).FromMaybe(false)) return;
  isolate->SetPromiseRejectCallback(OnPromiseReject);
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
