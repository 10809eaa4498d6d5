// isolate.startCpuProfiler(title, options?) and isolate.stopCpuProfiler(title) → Promise of
// [{ threadId, profile }], where profile is a Chrome DevTools Profiler.Profile (see
// isolate/cpu_profiler.h for how the samples are taken).
#include "isolate/cpu_profiler.h"
#include "module/features.h"

namespace islet {
namespace {

int IntegerOption(Isolate* isolate, Local<Value> options, const char* name, int fallback, int min, int max) {
  Local<Value> value = Option(isolate, options, name);
  if (value->IsUndefined()) return fallback;
  double number = value->IsNumber() ? value.As<v8::Number>()->Value() : -1;
  if (!(number >= min && number <= max) || number != double(int64_t(number))) {
    ThrowTypeError(std::string("startCpuProfiler: `") + name + "` must be an integer from " + std::to_string(min) +
                   " to " + std::to_string(max));
  }
  return int(number);
}

std::string ReadTitle(Isolate* isolate, Local<Value> value, const char* method) {
  if (!value->IsString()) ThrowTypeError(std::string(method) + "(title): `title` must be a string");
  std::string title = ToUtf8(isolate, value);
  if (title.size() > 1024) ThrowTypeError(std::string(method) + "(title): `title` is longer than 1024 bytes");
  return title;
}

Local<Value> NodeToJs(Isolate* isolate, Local<Context> context, const ProfileData::Node& node) {
  auto set = [&](Local<Object> target, const char* name, Local<Value> value) {
    Check(target->Set(context, V8Symbol(isolate, name), value));
  };
  Local<Object> frame = Object::New(isolate);
  set(frame, "functionName", V8String(isolate, node.function_name));
  set(frame, "scriptId", V8String(isolate, std::to_string(node.script_id)));
  set(frame, "url", V8String(isolate, node.url));
  set(frame, "lineNumber", v8::Integer::New(isolate, node.line));
  set(frame, "columnNumber", v8::Integer::New(isolate, node.column));
  Local<Object> out = Object::New(isolate);
  set(out, "id", v8::Integer::NewFromUnsigned(isolate, node.id));
  set(out, "callFrame", frame);
  set(out, "hitCount", v8::Integer::NewFromUnsigned(isolate, node.hit_count));
  std::vector<Local<Value>> children;
  for (unsigned child : node.children) children.push_back(v8::Integer::NewFromUnsigned(isolate, child));
  set(out, "children", v8::Array::New(isolate, children.data(), children.size()));
  if (!node.position_ticks.empty()) {
    std::vector<Local<Value>> ticks;
    for (auto& [line, count] : node.position_ticks) {
      Local<Object> tick = Object::New(isolate);
      set(tick, "line", v8::Integer::New(isolate, line));
      set(tick, "ticks", v8::Integer::NewFromUnsigned(isolate, count));
      ticks.push_back(tick);
    }
    set(out, "positionTicks", v8::Array::New(isolate, ticks.data(), ticks.size()));
  }
  return out;
}

Local<Value> ProfileToJs(Isolate* isolate, Local<Context> context, const ProfileData& data) {
  auto set = [&](Local<Object> target, const char* name, Local<Value> value) {
    Check(target->Set(context, V8Symbol(isolate, name), value));
  };
  Local<Object> profile = Object::New(isolate);
  std::vector<Local<Value>> items;
  items.reserve(data.nodes.size());
  for (auto& node : data.nodes) items.push_back(NodeToJs(isolate, context, node));
  set(profile, "nodes", v8::Array::New(isolate, items.data(), items.size()));
  set(profile, "startTime", v8::Number::New(isolate, double(data.start_time)));
  set(profile, "endTime", v8::Number::New(isolate, double(data.end_time)));
  items.clear();
  for (unsigned id : data.samples) items.push_back(v8::Integer::NewFromUnsigned(isolate, id));
  set(profile, "samples", v8::Array::New(isolate, items.data(), items.size()));
  // DevTools: the first delta is from startTime, each next one from the previous sample.
  items.clear();
  int64_t previous = data.start_time;
  for (int64_t time : data.timestamps) {
    items.push_back(v8::Number::New(isolate, double(time - previous)));
    previous = time;
  }
  set(profile, "timeDeltas", v8::Array::New(isolate, items.data(), items.size()));
  Local<Object> entry = Object::New(isolate);
  set(entry, "threadId", v8::Number::New(isolate, double(data.thread_id)));
  set(entry, "profile", profile);
  Local<Value> entries[] = {entry};
  return v8::Array::New(isolate, entries, 1);
}

}  // namespace

void StartCpuProfiler(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    EnvPtr env = LiveIsolateEnv(isolate, info.This());
    std::string title = ReadTitle(isolate, info[0], "startCpuProfiler");
    ProfileOptions options;
    options.interval_us = IntegerOption(isolate, info[1], "samplingInterval", options.interval_us, 100, 1000000);
    options.max_samples =
        unsigned(IntegerOption(isolate, info[1], "maxSamples", int(options.max_samples), 1, 10000000));
    std::shared_ptr<CpuProfilerFeature> profiler = CpuProfilerFeature::For(env);
    if (!profiler) ThrowError(ErrorClass::Error, "Isolate is disposed", "ERR_ISOLATE_DISPOSED");
    profiler->Request(title, options);
    profiler->Watch();
    info.GetReturnValue().SetUndefined();
  });
}

void StopCpuProfiler(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    std::string title = ReadTitle(isolate, info[0], "stopCpuProfiler");
    EnvPtr env;
    try {
      env = LiveIsolateEnv(isolate, info.This());
    } catch (const ThrownValue& thrown) {
      // An async method reports a disposed isolate by rejecting, as the others do.
      Local<Context> context = isolate->GetCurrentContext();
      Local<v8::Promise::Resolver> resolver = Check(v8::Promise::Resolver::New(context));
      Check(resolver->Reject(context, thrown.value->TransferIn(isolate, context)));
      info.GetReturnValue().Set(resolver->GetPromise());
      return;
    }
    auto result = std::make_shared<std::optional<ProfileData>>();
    auto task = MakeTask(
        [env, title, result] {
          if (auto profiler = std::static_pointer_cast<CpuProfilerFeature>(env->GetFeature(FeatureId::CpuProfiler))) {
            *result = profiler->End(env->isolate(), title);
          }
        },
        [result](Isolate* isolate, Local<Context> context) -> Local<Value> {
          if (!*result) return v8::Array::New(isolate, 0);
          return ProfileToJs(isolate, context, **result);
        });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(ThreePhaseTask::Mode::Async, std::move(task), env));
  });
}

}  // namespace islet
