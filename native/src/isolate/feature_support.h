// Small helpers shared by the optional per-isolate features (profiler, inspector).
#pragma once

#include "isolate/environment.h"

namespace islet {

// True while some thread holds the isolate (runs JavaScript in it, or queued work). An
// interrupt requested now is served at the isolate's next interrupt check.
inline bool IsExecuting(const IsolateEnvironment& env) {
  uint64_t owner = env.owner.load();
  return owner != IsolateEnvironment::kFree && owner != IsolateEnvironment::kTornDown;
}

}  // namespace islet
