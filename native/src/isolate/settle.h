// Settling a Promise of one isolate from work that finished elsewhere: the last step of an
// async call, of a Promise proxied across isolates and of a dynamic import(). One shape for all
// of them: enter the receiving isolate (or give up quietly when it is gone), compute the
// outcome, resolve or reject, and run the promise jobs that follow before the task ends.
#pragma once

#include <optional>

#include "isolate/remote.h"
#include "isolate/scope.h"
#include "isolate/transfer.h"

namespace islet {

// How a Promise settles.
struct Settlement {
  bool rejected = true;
  Local<Value> value;
};

// `error` rebuilt in the current isolate (a generic Error when even that fails).
inline Local<Value> Rebuild(Isolate* isolate, Local<Context> context, const ThrownValue& error) {
  v8::TryCatch try_catch(isolate);
  try {
    return error.value->TransferIn(isolate, context);
  } catch (...) {
    return v8::Exception::Error(V8String(isolate, "Could not rebuild a value settled in another isolate"));
  }
}

// Settles the Promise that `resolver` (made in `context` of `env`) controls with what
// `make(isolate, context)` returns; a ThrownValue or JavaScript exception it raises rejects it.
// Returns false when the isolate was gone.
template <typename Make>
bool SettleIn(IsolateEnvironment& env, const RemotePtr<Context>& context,
              const RemotePtr<v8::Promise::Resolver>& resolver, Make make) {
  if (env.disposed() || env.torn_down()) return false;
  Isolate* isolate = env.isolate();
  std::optional<ExecScope> scope;
  if (!env.is_default()) {
    try {
      scope.emplace(env);
    } catch (const ThrownValue&) {
      return false;  // it went away meanwhile
    }
  }
  HandleScope handles(isolate);
  Local<Context> target = context->Deref();
  Context::Scope context_scope(target);
  Settlement outcome;
  {
    v8::TryCatch try_catch(isolate);
    try {
      outcome = make(isolate, target);
    } catch (const ThrownValue& thrown) {
      outcome = Settlement{true, Rebuild(isolate, target, thrown)};
    } catch (const JsPending&) {
      outcome.rejected = true;
      if (try_catch.HasCaught() && try_catch.CanContinue()) outcome.value = try_catch.Exception();
    }
  }
  if (outcome.value.IsEmpty()) outcome.value = v8::Undefined(isolate);
  Local<v8::Promise::Resolver> promise = resolver->Deref();
  if (outcome.rejected) {
    (void)promise->Reject(target, outcome.value);
  } else {
    (void)promise->Resolve(target, outcome.value);
  }
  if (!env.is_default()) isolate->PerformMicrotaskCheckpoint();
  return true;
}

}  // namespace islet
