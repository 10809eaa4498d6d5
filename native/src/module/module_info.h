// What islet keeps for each ES module it compiled, shared by the Module class (module.cc), the
// graph walk that links it (link.cc) and the hooks V8 calls for modules (module_hooks.cc).
#pragma once

#include <optional>
#include <unordered_map>

#include "module/handles.h"

namespace islet {

struct ModuleInfo {
  RemotePtr<v8::Module> module;
  std::string filename;
  std::vector<std::string> specifiers;
  CallbackDataPtr meta;  // import.meta initialiser, a function of the module's own isolate
  int hash = 0;

  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<ModuleInfo>> links;
  bool linked = false;             // instantiated as part of a graph: its links are final
  RemotePtr<Context> context;      // set by instantiate
  ReferenceDataPtr namespace_ref;  // set by instantiate
  bool evaluated = false;
  std::optional<ThrownValue> evaluation_error;

  const EnvPtr& env() const { return module->env(); }
};
using ModuleInfoPtr = std::shared_ptr<ModuleInfo>;

// Registers a module for Lookup (after compiling).
void RememberModule(const ModuleInfoPtr& info);
// The info of a module compiled by islet in the current isolate, or null.
ModuleInfoPtr LookupModule(Isolate* isolate, Local<v8::Module> module);
// The info behind a Module object (TypeError when it is not one, Error when released).
ModuleInfoPtr ModuleOf(Isolate* isolate, Local<Value> value);

// V8's question while instantiating: which module does `specifier` in `referrer` name?
MaybeLocal<v8::Module> ResolveModuleLink(Local<Context> context, Local<String> specifier,
                                         Local<v8::FixedArray> assertions, Local<v8::Module> referrer);

// Links the graph below `root` through `resolve` (a function of the caller's isolate, which
// holds the Module objects), then instantiates it in `context`. Sync: returns undefined or
// throws. Async: returns a Promise (the resolver may return Promises).
Local<Value> InstantiateGraph(ThreePhaseTask::Mode mode, Isolate* isolate, Local<Object> root_object,
                              const ModuleInfoPtr& root, RemotePtr<Context> context, Local<Value> resolve);

}  // namespace islet
