// Module entry: registers Node's isolate as the default environment, pins the library in
// memory, and exports the classes.
#include <dlfcn.h>

#include "isolate/environment.h"
#include "isolate/stuck_runs.h"
#include "isolate/watchdog.h"
#include "module/handles.h"

namespace islet {

void RegisterLibrary(const FunctionCallbackInfo<Value>& info);
void ExportSharedFile(Isolate* isolate, Local<Context> context, Local<Object> exports);  // shared_file.cc

namespace {

// The addon's code runs on its own threads (the pool, the watchdog) and from callbacks Node
// calls while it shuts an environment down. When a worker_thread that loaded it ends, Node
// unloads the shared library: any of that code still running would then crash the process.
// Loading ourselves once more with RTLD_NODELETE keeps the library mapped until the process ends.
void PinLibrary() {
  static bool pinned = false;
  if (pinned) return;
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&PinLibrary), &self) && self.dli_fname) {
    pinned = dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD) != nullptr;
  }
}

// shutdown(): Node's environment is about to go away (process 'exit'): stop the isolates it
// created from running on the pool so that nothing runs while Node tears its platform down.
void Shutdown(const FunctionCallbackInfo<Value>& info) {
  if (IsolateEnvironment* env = IsolateEnvironment::DefaultOnThisThread()) env->Shutdown(false);
}

void Initialize(Local<Object> exports, Local<Context> context) {
  PinLibrary();
  Isolate* isolate = context->GetIsolate();
  if (!IsolateEnvironment::Find(isolate)) IsolateEnvironment::CreateDefault(isolate, context);
  auto add = [&](const char* name, ClassId id) {
    Local<Function> ctor = ClassHandle::Template(isolate, id)->GetFunction(context).ToLocalChecked();
    exports->Set(context, V8Symbol(isolate, name), ctor).Check();
  };
  add("Isolate", ClassId::Isolate);
  add("Context", ClassId::Context);
  add("Script", ClassId::Script);
  add("Module", ClassId::Module);
  add("Reference", ClassId::Reference);
  add("ExternalCopy", ClassId::ExternalCopy);
  add("Callback", ClassId::Callback);
  ExportMachineStalls(isolate, context, exports);
  auto function = [&](const char* name, v8::FunctionCallback callback) {
    exports->Set(context, V8Symbol(isolate, name), v8::Function::New(context, callback).ToLocalChecked()).Check();
  };
  function("registerLibrary", RegisterLibrary);
  function("shutdown", Shutdown);
  ExportSharedFile(isolate, context, exports);
  ExportStuckRunWatch(isolate, context, exports);
  ExportThreadClock(isolate, context, exports);
  exports->Set(context, V8Symbol(isolate, "nodeModuleVersion"), v8::Integer::New(isolate, NODE_MODULE_VERSION)).Check();
}

}  // namespace
}  // namespace islet

NODE_MODULE_INIT(/* exports, module, context */) { islet::Initialize(exports, context); }
