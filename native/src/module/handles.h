// The JavaScript classes of the addon and the machinery they share.
//
// Every class is a C++ object (ClassHandle) wrapped by a JS object made from a per-isolate
// FunctionTemplate, so the same classes exist in Node's isolate and inside any isolate a handle
// is transferred into. Wrappers are weak: when the JS object is collected the C++ object is
// deleted; when the isolate is disposed, all its wrappers are deleted with it.
#pragma once

#include <functional>

#include "isolate/environment.h"
#include "isolate/remote.h"
#include "isolate/task.h"
#include "isolate/transfer.h"
#include "module/compile.h"

namespace islet {

using v8::FunctionTemplate;

class ClassHandle {
 public:
  explicit ClassHandle(ClassId id) : id_(id) {}
  virtual ~ClassHandle();
  ClassId id() const { return id_; }

  // Every islet class is transferable: this makes the same handle appear in another isolate.
  virtual TransferablePtr TransferOut() = 0;

  // Creates the JS object for this handle in the current isolate; the object owns `this`.
  Local<Object> Wrap(Isolate* isolate, Local<Context> context);
  // Ties the lifetime of `this` to an existing object (functions made for Callbacks).
  void Attach(IsolateEnvironment& env, Local<Object> object);
  // Makes `object` (made by this class's constructor) the JS face of `this`.
  void Adopt(Isolate* isolate, Local<Object> object);
  // The isolate is being disposed: forget the JS object without touching V8.
  void Detach() { owner_ = nullptr; }

  // The islet handle behind a JS value, or nullptr.
  static ClassHandle* Unwrap(Isolate* isolate, Local<Value> value);
  template <typename T>
  static T* UnwrapAs(Isolate* isolate, Local<Value> value) {
    ClassHandle* handle = Unwrap(isolate, value);
    if (!handle || handle->id_ != T::kId) ThrowTypeError(std::string("Expected ") + T::kName + " object");
    return static_cast<T*>(handle);
  }
  static Local<FunctionTemplate> Template(Isolate* isolate, ClassId id);

 private:
  static void OnWeak(const v8::WeakCallbackInfo<ClassHandle>& info);
  ClassId id_;
  v8::Persistent<Object> wrapper_;
  IsolateEnvironment* owner_ = nullptr;
};

// A function of the current isolate whose callback reads `data` (DataOf): the data lives as
// long as the function, and is freed with the isolate if that goes first.
Local<Function> NewFunctionWithData(Isolate* isolate, Local<Context> context, v8::FunctionCallback callback,
                                    std::shared_ptr<void> data);
std::shared_ptr<void> FunctionDataOf(const FunctionCallbackInfo<Value>& info);
template <typename T>
std::shared_ptr<T> DataOf(const FunctionCallbackInfo<Value>& info) {
  return std::static_pointer_cast<T>(FunctionDataOf(info));
}

// Template building helpers. Everything they define is read-only and non-configurable, and
// instances cannot change their prototype: the API cannot be altered from inside an isolate
// (or by one module of the host for another).
Local<FunctionTemplate> NewClassTemplate(Isolate* isolate, const char* name, v8::FunctionCallback constructor);
void SetMethod(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback callback);
void SetGetter(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback getter);
void SetStaticMethod(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback callback);
void SetStaticGetter(Isolate* isolate, Local<FunctionTemplate> tmpl, const char* name, v8::FunctionCallback getter);
void PrivateConstructor(const FunctionCallbackInfo<Value>& info);

template <typename T, void (T::*Method)(const FunctionCallbackInfo<Value>&)>
void Bind(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    T* self = ClassHandle::UnwrapAs<T>(isolate, info.This());
    (self->*Method)(info);
  });
}

// Turns an exception thrown by an async method (a released handle, a disposed isolate, a bad
// argument) into the rejection of the Promise it returns: async forms never throw.
void RejectInstead(const FunctionCallbackInfo<Value>& info, v8::TryCatch& try_catch);

// Binds an async form: like Bind, but failures reject the returned Promise.
template <typename T, void (T::*Method)(const FunctionCallbackInfo<Value>&)>
void BindAsync(const FunctionCallbackInfo<Value>& info) {
  v8::TryCatch try_catch(info.GetIsolate());
  Bind<T, Method>(info);
  if (try_catch.HasCaught()) RejectInstead(info, try_catch);
}

// A Transferable that recreates a handle: `make` builds a fresh ClassHandle on arrival.
TransferablePtr HandleTransfer(std::function<ClassHandle*()> make);

EnvPtr CurrentEnv();

// --- shared state of each class (what a transfer carries) ---

struct ReferenceData {
  RemotePtr<Value> value;
  RemotePtr<Context> context;
  std::string type;  // `typeof`
  bool inherit = false;
  const EnvPtr& env() const { return value->env(); }
};
using ReferenceDataPtr = std::shared_ptr<ReferenceData>;
ReferenceDataPtr MakeReferenceData(Isolate* isolate, Local<Context> context, Local<Value> value, bool inherit = false);
Local<Object> NewReference(Isolate* isolate, Local<Context> context, ReferenceDataPtr data);
// Releases a Reference object handed out earlier (context.release() releases `global`).
void ReleaseReference(Isolate* isolate, Local<Value> reference);

enum class CallbackMode { Sync, Async, Ignored };
struct CallbackData {
  RemotePtr<Function> function;
  RemotePtr<Context> context;
  CallbackMode mode = CallbackMode::Sync;
  std::string name;
  int length = 0;
  const EnvPtr& env() const { return function->env(); }
};
using CallbackDataPtr = std::shared_ptr<CallbackData>;
CallbackDataPtr MakeCallbackData(Isolate* isolate, Local<Context> context, Local<Function> function, CallbackMode mode);
// A function in the current isolate that calls `data` (the original function when local).
Local<Value> CallbackFunction(Isolate* isolate, Local<Context> context, const CallbackDataPtr& data);
// Calls a function of Node's isolate from wherever we are, with copied arguments.
Local<Value> CallSync(Isolate* isolate, const CallbackDataPtr& data, std::vector<TransferablePtr> args);

ClassHandle* MakeReferenceHandle(ReferenceDataPtr data);
// The addon's module object (`require('<repo>/native')`, or the object an isolate received in
// its place): transferable, so code in an isolate can create isolates, copies and references.
bool IsLibraryObject(Isolate* isolate, Local<Object> object);
TransferablePtr LibraryTransfer();
Local<FunctionTemplate> DefineLibrary(Isolate* isolate);
ClassHandle* MakeExternalCopyHandle(CopiedValuePtr copy);
TransferablePtr CallbackTransfer(CallbackDataPtr data);
// Proxies a Promise: the receiving isolate gets a Promise settled when this one settles.
TransferablePtr TransferPromise(Isolate* isolate, Local<Context> context, Local<v8::Promise> promise,
                                TransferOptions inner, Fallback fallback);

struct ModuleInfo;
Local<Value> CompileModuleTask(ThreePhaseTask::Mode mode, const FunctionCallbackInfo<Value>& info, const EnvPtr& env);
void InstallModuleHooks(Isolate* isolate);

// Reference.applySyncPromise on the Reference's data (see apply_sync_promise.cc).
Local<Value> ApplySyncPromise(const FunctionCallbackInfo<Value>& info, const ReferenceDataPtr& data);

// The arguments array of apply/evalClosure, each transferred out (TypeError when not an array).
std::vector<TransferablePtr> TransferArguments(Isolate* isolate, Local<Context> context, Local<Value> list,
                                               const TransferOptions& options);

// The copy held by an ExternalCopy handle (null when released).
CopiedValuePtr ExternalCopyValue(ClassHandle* handle);
Local<Object> NewExternalCopy(Isolate* isolate, Local<Context> context, CopiedValuePtr copy);
Local<Object> NewContext(Isolate* isolate, Local<Context> context, RemotePtr<Context> target, ReferenceDataPtr global);
RemotePtr<Context> ContextOf(Isolate* isolate, Local<Value> value);
Local<Object> NewScript(Isolate* isolate, Local<Context> context, RemotePtr<v8::UnboundScript> script);
Local<Object> NewIsolateHandle(Isolate* isolate, Local<Context> context, EnvPtr env);
Local<Object> NewModule(Isolate* isolate, Local<Context> context, std::shared_ptr<ModuleInfo> info);
Local<Object> NewCallback(Isolate* isolate, Local<Context> context, CallbackDataPtr data);

// Isolate#adjustExternalMemory (external_memory.cc).
void AdjustExternalMemory(const FunctionCallbackInfo<Value>& info, const EnvPtr& env);
// The module's threadCpuTime() (thread_clock.cc).
void ExportThreadClock(Isolate* isolate, Local<Context> context, Local<Object> exports);

// Class definitions (template builders), one per source file.
Local<FunctionTemplate> DefineIsolate(Isolate* isolate);
Local<FunctionTemplate> DefineContext(Isolate* isolate);
Local<FunctionTemplate> DefineScript(Isolate* isolate);
Local<FunctionTemplate> DefineModule(Isolate* isolate);
Local<FunctionTemplate> DefineReference(Isolate* isolate);
Local<FunctionTemplate> DefineDereference(Isolate* isolate);
Local<FunctionTemplate> DefineExternalCopy(Isolate* isolate);
Local<FunctionTemplate> DefineCopyInto(Isolate* isolate);
Local<FunctionTemplate> DefineCallback(Isolate* isolate);
Local<FunctionTemplate> DefineInspectorSession(Isolate* isolate);

}  // namespace islet
