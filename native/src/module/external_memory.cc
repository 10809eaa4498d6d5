// Isolate#adjustExternalMemory(bytes): memory an embedder keeps outside V8 on behalf of an
// isolate (keys, buffers, queued work of its host calls), reported to V8 as external memory.
// V8 schedules garbage collection by it, and the addon's memory limit counts it: the limit
// checks after each call and the watchdog's periodic check compare V8's external memory (which
// already includes ArrayBuffers) against the isolate's limit, so an isolate whose host holdings
// and own buffers together pass its limit is disposed like any other over its memory limit. A
// charge that would leave the isolate less than a sixteenth of its limit is refused (false) and
// nothing is charged: the embedder then refuses the work with an error instead of killing the
// isolate, which keeps room for the buffers it makes and drops meanwhile.
#include <cmath>
#include <optional>

#include "isolate/scope.h"
#include "module/handles.h"

namespace islet {

void AdjustExternalMemory(const FunctionCallbackInfo<Value>& info, const EnvPtr& env) {
  Local<Value> arg = info[0];
  double bytes = arg->IsNumber() ? arg.As<v8::Number>()->Value() : NAN;
  if (!std::isfinite(bytes) || std::trunc(bytes) != bytes || std::fabs(bytes) > 9007199254740991.0) {
    ThrowTypeError("`bytes` must be an integer number of bytes (negative to give them back)");
  }
  // A disposed isolate holds nothing any more: a charge is refused, a release has nothing to do.
  if (bytes == 0 || env->disposed()) {
    info.GetReturnValue().Set(bytes <= 0);
    return;
  }
  // V8 wants the isolate locked and entered to be told (a charge may start a collection). The
  // isolate may be torn down while this thread waits for it (its run hit the memory limit, or
  // disposed it): that is the disposed case above, not an error for the host.
  std::optional<ExecScope> scope;
  try {
    scope.emplace(*env);
  } catch (const ThrownValue&) {
    if (!env->disposed()) throw;
    info.GetReturnValue().Set(bytes <= 0);
    return;
  }
  Isolate* target = env->isolate();
  int64_t delta = int64_t(bytes);
  if (delta > 0) {
    int64_t held = target->AdjustAmountOfExternalAllocatedMemory(0);
    int64_t limit = int64_t(env->memory_limit_bytes());
    if (held + delta > limit - limit / 16) {
      info.GetReturnValue().Set(false);
      return;
    }
  }
  target->AdjustAmountOfExternalAllocatedMemory(delta);
  info.GetReturnValue().Set(true);
}

}  // namespace islet
