// threadCpuTime(): the CPU clock of the calling thread, in ns (a bigint), for an embedder that
// measures its own work on a thread (islet charges the work of its thread pools to tenants by
// what every thread but Node's main one used, which needs the main thread's clock: one
// clock_gettime here, where reading it from /proc costs a file read).
#include "isolate/scope.h"
#include "module/handles.h"

namespace islet {
namespace {

void ThreadCpuTime(const FunctionCallbackInfo<Value>& info) {
  info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), ThreadCpuNs()));
}

}  // namespace

void ExportThreadClock(Isolate* isolate, Local<Context> context, Local<Object> exports) {
  Local<Function> fn = v8::Function::New(context, ThreadCpuTime).ToLocalChecked();
  exports->Set(context, V8Symbol(isolate, "threadCpuTime"), fn).Check();
}

}  // namespace islet
