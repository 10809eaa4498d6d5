// islet's async context: the value V8 keeps with every promise continuation (the
// "continuation-preserved embedder data"), exposed to code inside an isolate so that an
// AsyncLocalStorage can be written in JavaScript exactly as workerd's rides on the same
// primitive. A context created with `{ asyncContext: true }` gets a hidden global object
// `__isletAsyncContext` = { get(), set(value) } (non-enumerable, deletable: a bootstrap takes
// it and removes it from the global).
//
// What V8 does with the value: when a promise reaction is created (`.then`, `await`), V8 stores
// the current value with it; when the reaction's job runs, the value is restored for the job
// and reset afterwards. So the value set before an `await` is the value seen after it, however
// late the promise settles and whoever settles it (another job, the host).
#pragma once

#include "isolate/common.h"

namespace islet {

// The hidden global's name.
constexpr const char* kAsyncContextGlobal = "__isletAsyncContext";

// Defines the hidden object on `context`'s global. The isolate and `context` are entered.
void InstallAsyncContext(Isolate* isolate, Local<Context> context);

// The C++ functions behind get()/set(), for a snapshot's external reference table.
const intptr_t* AsyncContextExternalReferences();

}  // namespace islet
