// Isolate: creates and owns a V8 isolate; compiles scripts and modules, creates contexts,
// reports heap statistics and the time spent inside.
#include <cmath>

#include "isolate/scope.h"
#include "module/features.h"
#include "module/handles.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

// Calls an onCatastrophicError callback with the message, on the callback's own thread.
class CatastrophicNotice : public Runnable {
 public:
  CatastrophicNotice(CallbackDataPtr callback, std::string message)
      : callback_(std::move(callback)), message_(std::move(message)) {}
  void Run() override {
    IsolateEnvironment& env = *callback_->env();
    if (env.disposed() || env.torn_down() || !env.is_default()) return;
    Isolate* isolate = env.isolate();
    HandleScope handles(isolate);
    Local<Context> context = callback_->context->Deref();
    Context::Scope scope(context);
    v8::TryCatch try_catch(isolate);
    Local<Value> argv[] = {V8String(isolate, message_)};
    (void)callback_->function->Deref()->Call(context, v8::Undefined(isolate), 1, argv);
  }

 private:
  CallbackDataPtr callback_;
  std::string message_;
};

class IsolateHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Isolate;
  static constexpr const char* kName = "Isolate";
  explicit IsolateHandle(EnvPtr env) : ClassHandle(kId), env_(std::move(env)) {}

  TransferablePtr TransferOut() override {
    EnvPtr env = env_;
    return HandleTransfer([env] { return new IsolateHandle(env); });
  }

  const EnvPtr& Live() const {
    if (env_->disposed()) throw DisposedError();
    return env_;
  }

  static void New(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Guard(isolate, [&] {
      if (!info.IsConstructCall()) ThrowTypeError("Class constructor Isolate cannot be invoked without 'new'");
      Local<Value> options = info[0];
      CheckOptions(options, "options");
      IsolateEnvironment::Options env_options;
      Local<Value> limit = Option(isolate, options, "memoryLimit");
      if (!limit->IsUndefined()) {
        if (!limit->IsNumber() || std::isnan(limit.As<v8::Number>()->Value())) {
          ThrowTypeError("`memoryLimit` must be a number of megabytes (got " + Describe(isolate, limit) + ")");
        }
        double mb = limit.As<v8::Number>()->Value();
        if (!(mb >= 8))
          ThrowError(ErrorClass::RangeError, "`memoryLimit` must be at least 8 (MB), got " + Describe(isolate, limit));
        // Infinity and absurd sizes mean "as much as islet allows", not an overflowed byte count.
        env_options.memory_limit_mb = size_t(std::min(mb, IsolateEnvironment::kMaxMemoryLimitMb));
      }
      Local<Value> atomics_wait = Option(isolate, options, "allowAtomicsWait");
      if (!atomics_wait->IsUndefined()) {
        if (!atomics_wait->IsBoolean()) ThrowTypeError("`allowAtomicsWait` must be a boolean");
        env_options.allow_atomics_wait = atomics_wait.As<v8::Boolean>()->Value();
      }
      Local<Value> label = Option(isolate, options, "label");
      if (!label->IsUndefined()) {
        if (!label->IsString()) ThrowTypeError("`label` must be a string");
        env_options.label = ToUtf8(isolate, label).substr(0, 128);
      }
      IsolateFeatures features = IsolateFeatures::Parse(isolate, options, env_options);
      Local<Value> on_error = Option(isolate, options, "onCatastrophicError");
      CallbackDataPtr callback;
      if (!on_error->IsUndefined()) {
        if (!on_error->IsFunction()) ThrowTypeError("`onCatastrophicError` must be a function");
        callback = MakeCallbackData(isolate, isolate->GetCurrentContext(), on_error.As<Function>(), CallbackMode::Sync);
      }
      EnvPtr env = IsolateEnvironment::Create(env_options);
      features.Apply(env);
      if (callback) {
        // Called on the thread where V8 gave up, whose isolate must not be used: the callback
        // runs later on its own thread.
        env->on_catastrophic_error = [callback](const std::string& message) {
          callback->env()->Post(std::make_unique<CatastrophicNotice>(callback, message));
        };
      }
      (new IsolateHandle(env))->Adopt(isolate, info.This());
    });
  }

  template <Mode M>
  void CompileScript(const FunctionCallbackInfo<Value>& info) {
    EnvPtr env = Live();
    CompileInput input = CompileInput::Parse(info.GetIsolate(), info[0], info[1]);
    auto script = std::make_shared<RemotePtr<v8::UnboundScript>>();
    auto cache = std::make_shared<CachedDataResult>();
    auto task =
        MakeTask([env, input, script, cache] { *script = MakeRemote(env, CompileScriptIn(*env, input, cache.get())); },
                 [script, cache](Isolate* isolate, Local<Context> ctx) -> Local<Value> {
                   Local<Object> object = NewScript(isolate, ctx, *script);
                   cache->Apply(isolate, ctx, object);
                   return object;
                 });
    task->runs_code = false;
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), env));
  }

  template <Mode M>
  void CreateContext(const FunctionCallbackInfo<Value>& info) {
    EnvPtr env = Live();
    ContextFeatures features = ContextFeatures::Parse(info.GetIsolate(), info[0], env);
    auto context = std::make_shared<RemotePtr<Context>>();
    auto global = std::make_shared<ReferenceDataPtr>();
    auto task = MakeTask(
        [env, context, global, features] {
          Local<Context> ctx = env->NewContext();
          features.Apply(env, ctx);
          *context = MakeRemote(env, ctx);
          auto data = std::make_shared<ReferenceData>();
          data->value = MakeRemote<Value>(env, ctx->Global(), true);
          data->context = *context;
          data->type = "object";
          *global = data;
        },
        [context, global](Isolate* isolate, Local<Context> ctx) -> Local<Value> {
          return NewContext(isolate, ctx, *context, *global);
        });
    task->runs_code = false;
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), env));
  }

  template <Mode M>
  void CompileModule(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(CompileModuleTask(M, info, Live()));
  }

  template <Mode M>
  void HeapStatistics(const FunctionCallbackInfo<Value>& info) {
    EnvPtr env = Live();
    auto stats = std::make_shared<v8::HeapStatistics>();
    auto external = std::make_shared<size_t>(0);
    auto task = MakeTask(
        [env, stats, external] {
          env->isolate()->GetHeapStatistics(stats.get());
          *external = env->ExternalBytes();
        },
        [stats, external](Isolate* isolate, Local<Context> ctx) -> Local<Value> {
          Local<Object> out = Object::New(isolate);
          auto set = [&](const char* name, double value) {
            (void)out->Set(ctx, V8Symbol(isolate, name), v8::Number::New(isolate, value));
          };
          set("total_heap_size", double(stats->total_heap_size()));
          set("total_heap_size_executable", double(stats->total_heap_size_executable()));
          set("total_physical_size", double(stats->total_physical_size()));
          set("total_available_size", double(stats->total_available_size()));
          set("used_heap_size", double(stats->used_heap_size()));
          set("heap_size_limit", double(stats->heap_size_limit()));
          set("malloced_memory", double(stats->malloced_memory()));
          set("peak_malloced_memory", double(stats->peak_malloced_memory()));
          set("does_zap_garbage", double(stats->does_zap_garbage()));
          set("number_of_native_contexts", double(stats->number_of_native_contexts()));
          set("number_of_detached_contexts", double(stats->number_of_detached_contexts()));
          set("total_global_handles_size", double(stats->total_global_handles_size()));
          set("used_global_handles_size", double(stats->used_global_handles_size()));
          set("external_memory", double(stats->external_memory()));
          set("externally_allocated_size", double(*external));
          return out;
        });
    task->runs_code = false;
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), env));
  }

  void Dispose(const FunctionCallbackInfo<Value>& info) {
    if (env_->disposed()) ThrowError(ErrorClass::Error, "Isolate is already disposed", "ERR_ISOLATE_DISPOSED");
    env_->Dispose();
    info.GetReturnValue().SetUndefined();
  }

  void IsDisposed(const FunctionCallbackInfo<Value>& info) { info.GetReturnValue().Set(env_->disposed()); }
  void CpuTime(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), env_->CpuTimeNs()));
  }
  void WallTime(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), env_->WallTimeNs()));
  }
  void ReferenceCount(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(double(env_->handle_count()));
  }
  void AdjustExternal(const FunctionCallbackInfo<Value>& info) { AdjustExternalMemory(info, env_); }

  void SetDynamicImportHook(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    EnvPtr env = Live();
    if (info[0]->IsNullOrUndefined()) {
      std::atomic_store(&env->dynamic_import_hook, std::shared_ptr<CallbackData>());
    } else {
      if (!info[0]->IsFunction()) ThrowTypeError("The dynamic import resolver must be a function");
      std::atomic_store(&env->dynamic_import_hook, MakeCallbackData(isolate, isolate->GetCurrentContext(),
                                                                    info[0].As<Function>(), CallbackMode::Sync));
    }
    info.GetReturnValue().SetUndefined();
  }

 private:
  EnvPtr env_;
};

}  // namespace

EnvPtr LiveIsolateEnv(Isolate* isolate, Local<Value> handle) {
  return ClassHandle::UnwrapAs<IsolateHandle>(isolate, handle)->Live();
}

Local<Object> NewIsolateHandle(Isolate* isolate, Local<Context> context, EnvPtr env) {
  return (new IsolateHandle(std::move(env)))->Wrap(isolate, context);
}

Local<FunctionTemplate> DefineIsolate(Isolate* isolate) {
  using I = IsolateHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "Isolate", I::New);
  SetMethod(isolate, tmpl, "compileScript", BindAsync<I, &I::CompileScript<Mode::Async>>);
  SetMethod(isolate, tmpl, "compileScriptSync", Bind<I, &I::CompileScript<Mode::Sync>>);
  SetMethod(isolate, tmpl, "compileModule", BindAsync<I, &I::CompileModule<Mode::Async>>);
  SetMethod(isolate, tmpl, "compileModuleSync", Bind<I, &I::CompileModule<Mode::Sync>>);
  SetMethod(isolate, tmpl, "createContext", BindAsync<I, &I::CreateContext<Mode::Async>>);
  SetMethod(isolate, tmpl, "createContextSync", Bind<I, &I::CreateContext<Mode::Sync>>);
  SetMethod(isolate, tmpl, "getHeapStatistics", BindAsync<I, &I::HeapStatistics<Mode::Async>>);
  SetMethod(isolate, tmpl, "getHeapStatisticsSync", Bind<I, &I::HeapStatistics<Mode::Sync>>);
  SetMethod(isolate, tmpl, "dispose", Bind<I, &I::Dispose>);
  SetMethod(isolate, tmpl, "_setDynamicImportHook", Bind<I, &I::SetDynamicImportHook>);
  SetMethod(isolate, tmpl, "adjustExternalMemory", Bind<I, &I::AdjustExternal>);
  SetGetter(isolate, tmpl, "isDisposed", Bind<I, &I::IsDisposed>);
  SetGetter(isolate, tmpl, "cpuTime", Bind<I, &I::CpuTime>);
  SetGetter(isolate, tmpl, "wallTime", Bind<I, &I::WallTime>);
  SetGetter(isolate, tmpl, "referenceCount", Bind<I, &I::ReferenceCount>);
  AddIsolateFeatureMethods(isolate, tmpl);
  return tmpl;
}

}  // namespace islet
