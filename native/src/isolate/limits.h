// The hooks islet installs on every non-default isolate to keep it inside its limits and to
// report what the reference isolate API reports:
// - memory: a bounded near-heap-limit callback (collect first, grant one small margin, then
//   terminate) and V8's out-of-memory handler;
// - code generation from strings (eval, new Function): refused past a size the isolate could
//   not parse within its memory limit or within the time left in the run;
// - promise rejections nobody handled during a run, which the run then reports as its error.
#pragma once

#include "isolate/environment.h"

namespace islet {

// Installs the hooks; the isolate is locked and entered.
void InstallLimits(IsolateEnvironment& env);
// Makes `context` consult the code-generation limit (every context islet creates in a
// non-default isolate).
void GuardCodeGeneration(Isolate* isolate, Local<Context> context);

// Code generated from strings is refused past memoryLimit / kCodeLimitDivisor characters, and
// past kCodeCharsPerMs for every millisecond left before the run's deadline (but never below
// kCodeMinChars): V8 parses about 10 MB/s of code and a parse cannot be interrupted.
constexpr size_t kCodeLimitDivisor = 8;
constexpr uint64_t kCodeCharsPerMs = 10000;
constexpr size_t kCodeMinChars = 64 * 1024;

}  // namespace islet
