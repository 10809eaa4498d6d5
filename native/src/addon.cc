// Module entry: registers Node's isolate as the default environment and exports the classes.
#include "module/handles.h"
#include "isolate/stuck_runs.h"
#include "isolate/watchdog.h"

namespace islet {

void ExportSharedFile(Isolate* isolate, Local<Context> context, Local<Object> exports);  // shared_file.cc

namespace {

void Initialize(Local<Object> exports, Local<Context> context) {
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
  ExportSharedFile(isolate, context, exports);
  ExportStuckRunWatch(isolate, context, exports);
  ExportThreadClock(isolate, context, exports);
  exports->Set(context, V8Symbol(isolate, "nodeModuleVersion"), v8::Integer::New(isolate, NODE_MODULE_VERSION)).Check();
}

}  // namespace
}  // namespace islet

NODE_MODULE_INIT(/* exports, module, context */) { islet::Initialize(exports, context); }
