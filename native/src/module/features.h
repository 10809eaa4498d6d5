// How the optional features (startup snapshots, the inspector, the CPU profiler, the async
// context) hook into the Isolate and Context classes: isolate.cc calls these at the few points
// where they apply, so the classes themselves stay unaware of the features' details.
#pragma once

#include "module/handles.h"

namespace islet {

// Options of `new Isolate(options)` that belong to features: `snapshot`, `inspector`.
struct IsolateFeatures {
  bool inspector = false;
  // Reads the options on the calling thread; a snapshot is checked and set in `env_options`.
  static IsolateFeatures Parse(Isolate* isolate, Local<Value> options, IsolateEnvironment::Options& env_options);
  // Right after the isolate was created (idle, on the constructor's thread).
  void Apply(const EnvPtr& env) const;
};

// Options of `createContext(options)` that belong to features: `inspector`, `asyncContext`,
// `promiseRejections`.
struct ContextFeatures {
  bool inspector = false;
  bool async_context = false;
  bool promise_rejections = false;
  static ContextFeatures Parse(Isolate* isolate, Local<Value> options, const EnvPtr& env);
  // In the target isolate, right after Context::New.
  void Apply(const EnvPtr& env, Local<Context> context) const;
};

// Adds the features' methods to the Isolate class: startCpuProfiler, stopCpuProfiler,
// createInspectorSession, and the static _createSnapshot (native/index.ts wraps it).
void AddIsolateFeatureMethods(Isolate* isolate, Local<FunctionTemplate> tmpl);

// The environment behind an Isolate object (isolate.cc); throws when disposed.
EnvPtr LiveIsolateEnv(Isolate* isolate, Local<Value> handle);

// In profiler.cc and inspector.cc.
void StartCpuProfiler(const FunctionCallbackInfo<Value>& info);
void StopCpuProfiler(const FunctionCallbackInfo<Value>& info);
void CreateInspectorSession(const FunctionCallbackInfo<Value>& info);
bool EnableInspector(const EnvPtr& env);
void InspectContext(const EnvPtr& env, Local<Context> context);

}  // namespace islet
