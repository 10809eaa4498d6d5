// The addon's module object as a transferable value. Node's side is the exports object of
// native/index.ts, registered once at load; in any other isolate it arrives as a frozen object
// holding that isolate's own classes (Isolate, Context, Script, Module, Reference, ExternalCopy,
// Callback), so code in an isolate can create isolates, copies and references, and `instanceof`
// works against the classes of its own context.
#include "module/handles.h"

namespace islet {
namespace {

constexpr auto kFixed = static_cast<v8::PropertyAttribute>(v8::ReadOnly | v8::DontDelete);

class LibraryHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Library;
  static constexpr const char* kName = "IsolatedVm";
  LibraryHandle() : ClassHandle(kId) {}
  TransferablePtr TransferOut() override { return LibraryTransfer(); }
};

class LibraryArrival : public Transferable {
 public:
  Local<Value> TransferIn(Isolate* isolate, Local<Context> context) override {
    IsolateEnvironment* env = IsolateEnvironment::Current();
    if (env->is_default() && !env->library.IsEmpty()) return env->library.Get(isolate);
    Local<Object> library = (new LibraryHandle())->Wrap(isolate, context);
    const std::pair<const char*, ClassId> classes[] = {
        {"Isolate", ClassId::Isolate},   {"Context", ClassId::Context},     {"Script", ClassId::Script},
        {"Module", ClassId::Module},     {"Reference", ClassId::Reference}, {"ExternalCopy", ClassId::ExternalCopy},
        {"Callback", ClassId::Callback},
    };
    for (auto& [name, id] : classes) {
      Local<Function> ctor = Check(ClassHandle::Template(isolate, id)->GetFunction(context));
      Check(library->DefineOwnProperty(context, V8Symbol(isolate, name), ctor, kFixed));
    }
    Check(library->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen));
    return library;
  }
};

}  // namespace

bool IsLibraryObject(Isolate* isolate, Local<Object> object) {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  return env && env->is_default() && !env->library.IsEmpty() && env->library.Get(isolate) == object;
}

TransferablePtr LibraryTransfer() { return std::make_shared<LibraryArrival>(); }

Local<FunctionTemplate> DefineLibrary(Isolate* isolate) {
  return NewClassTemplate(isolate, "IsolatedVm", PrivateConstructor);
}

// registerLibrary(exports): Node's module object of the addon (called once by native/index.ts).
void RegisterLibrary(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  IsolateEnvironment* env = IsolateEnvironment::Current();
  if (!env || !env->is_default() || !info[0]->IsObject()) return;
  env->library.Reset(isolate, info[0].As<Object>());
}

}  // namespace islet
