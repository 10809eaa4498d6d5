// Compilation shared by Isolate.compileScript, Isolate.compileModule and Context.eval: the
// options (script origin, code cache in and out), and compiling in the target isolate inside a
// context (V8 builds a compile error's SyntaxError in the current context: compiling with none
// entered crashed), with the error's message naming the file, line and column.
#pragma once

#include "isolate/environment.h"
#include "isolate/transfer.h"

namespace islet {

struct ScriptOriginOptions {
  std::string filename = "<isolated-vm>";
  int line_offset = 0;
  int column_offset = 0;
  static ScriptOriginOptions Parse(Isolate* isolate, Local<Value> options);
  v8::ScriptOrigin ToOrigin(Isolate* isolate, bool is_module = false) const;
};

struct CachedDataOptions {
  CopiedValuePtr cached_data;  // to consume
  bool produce = false;
  static CachedDataOptions Parse(Isolate* isolate, Local<Value> options);
};

struct CachedDataResult {
  bool has_rejected = false;
  bool rejected = false;
  CopiedValuePtr produced;
  // Sets cachedData / cachedDataRejected on the object returned to the caller.
  void Apply(Isolate* isolate, Local<Context> context, Local<Object> target) const;
};

// What a compile needs, copied out of the caller's isolate.
struct CompileInput {
  CopiedValuePtr code;
  ScriptOriginOptions origin;
  CachedDataOptions cache;
  // Reads `code` (must be a string) and the options object.
  static CompileInput Parse(Isolate* isolate, Local<Value> code, Local<Value> options);
};

// In the target isolate (locked and entered), inside its utility context. Throw a ThrownValue
// with the compile error.
Local<v8::UnboundScript> CompileScriptIn(IsolateEnvironment& env, const CompileInput& input, CachedDataResult* cache);
Local<v8::Module> CompileModuleIn(IsolateEnvironment& env, const CompileInput& input, CachedDataResult* cache);
// Compiles and binds a script in `context` (entered; Context.eval).
Local<v8::Script> CompileInContext(Isolate* isolate, Local<Context> context, const CompileInput& input);

}  // namespace islet
