// The stuck-run watch: ends the process when an isolate asked to stop cannot. Reaching its heap
// limit or one of its time limits makes the addon terminate the running script, which normally
// returns to its caller within milliseconds. A script inside a builtin that never checks for
// termination (`new Array(3e8).fill(0)`: V8 then collects garbage over and over near the heap
// limit, for many seconds, before its fatal out-of-memory handler aborts the process anyway)
// holds the thread, and every other isolate of the process waits. With the watch on
// (watchStuckIsolates(ms); off by default: a host that runs isolates in a process it can afford
// to lose, such as a worker under a supervisor, turns it on), an isolate whose run has not ended
// `ms` after it was asked to stop gets one line on stderr naming it by its label, and the process
// is ended at once (SIGKILL: no core of a huge heap is written).
#pragma once

#include <string>

#include "isolate/environment.h"

namespace islet {

// `env`'s run was asked to stop (`why`: "reaching its heap limit (...)", "its time limit"): it
// must end within the watch's time. Node's own isolate is never watched.
void StuckRunArm(IsolateEnvironment* env, const std::string& why);
// `env`'s run ended: it made progress.
void StuckRunDisarm(const IsolateEnvironment* env);

void ExportStuckRunWatch(Isolate* isolate, Local<Context> context, Local<Object> exports);

}  // namespace islet
