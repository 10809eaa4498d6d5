// islet's unhandled promise rejections: V8 tells the embedder
// (Isolate::SetPromiseRejectCallback) when a promise is rejected with no
// handler, and when a handler is added to such a promise later; the HTML event
// loop turns those into `unhandledrejection` / `rejectionhandled` events. A
// context created with `{ promiseRejections: true }` gets a hidden global
// function
// `__isletPromiseRejections(handler)` (non-enumerable, deletable: a bootstrap
// calls it once and removes it); from then on V8's notifications for promises
// made in that context call `handler(kind, promise, reason)` synchronously,
// kind 0 for "rejected with no handler" and 1 for "a handler was added after
// the rejection" (reason undefined). The handler is kept in a private property
// of the context's global, so each context has its own and nothing is kept per
// isolate.
#pragma once

#include "isolate/common.h"

namespace islet {

// The hidden global's name.
constexpr const char* kPromiseRejectionsGlobal = "__isletPromiseRejections";

// Defines the hidden function on `context`'s global. The isolate and `context`
// are entered.
void InstallPromiseRejections(Isolate* isolate, Local<Context> context);

// Calls the handler of the promise's context, if it has one (then true: the rejection is dealt
// with). The isolate's one rejection callback (limits.cc) asks this first.
bool DispatchPromiseRejection(v8::PromiseRejectMessage& message);

// The C++ functions behind it, for a snapshot's external reference table.
const intptr_t* PromiseRejectionsExternalReferences();

}  // namespace islet
