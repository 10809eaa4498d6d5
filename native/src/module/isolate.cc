// Isolate: creates and owns a V8 isolate; compiles scripts and modules, creates contexts,
// reports heap statistics and the time spent inside.
#include "module/features.h"
#include "module/handles.h"
#include "isolate/scope.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

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
      IsolateEnvironment::Options env_options;
      Local<Value> limit = Option(isolate, options, "memoryLimit");
      if (!limit->IsUndefined()) {
        if (!limit->IsNumber()) ThrowTypeError("`memoryLimit` must be a number of megabytes");
        double mb = limit.As<v8::Number>()->Value();
        if (!(mb >= 8)) ThrowTypeError("`memoryLimit` must be at least 8 (MB)");
        env_options.memory_limit_mb = size_t(mb);
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
        env->on_catastrophic_error = [callback](const std::string& message) {
          try {
            Isolate* current = Isolate::GetCurrent();
            HandleScope handles(current);
            std::vector<TransferablePtr> args{CopyPrimitive(current, V8String(current, message))};
            CallSync(current, callback, std::move(args));
          } catch (...) {
          }
        };
      }
      (new IsolateHandle(env))->Adopt(isolate, info.This());
    });
  }

  template <Mode M>
  void CompileScript(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    EnvPtr env = Live();
    if (!info[0]->IsString()) ThrowTypeError("`code` must be a string");
    CopiedValuePtr code = CopyPrimitive(isolate, info[0]);
    ScriptOriginOptions origin = ScriptOriginOptions::Parse(isolate, info[1]);
    CachedDataOptions cache = CachedDataOptions::Parse(isolate, info[1]);
    auto script = std::make_shared<RemotePtr<v8::UnboundScript>>();
    auto cache_result = std::make_shared<CachedDataResult>();
    auto task = MakeTask(
        [env, code, origin, cache, script, cache_result] {
          Isolate* isolate = env->isolate();
          // Compiling needs no context; one is made only to describe a compile error.
          Local<Context> ctx;
          v8::TryCatch try_catch(isolate);
          try {
            v8::ScriptOrigin script_origin = origin.ToOrigin(isolate);
            v8::ScriptCompiler::CachedData* cached = nullptr;
            if (cache.cached_data) {
              auto store = BackingStoreOf(*cache.cached_data);
              cached = new v8::ScriptCompiler::CachedData(static_cast<const uint8_t*>(store->Data()), int(store->ByteLength()));
            }
            v8::ScriptCompiler::Source source(code->TransferIn(isolate, ctx).As<String>(), script_origin, cached);
            Local<v8::UnboundScript> unbound = Check(v8::ScriptCompiler::CompileUnboundScript(
                isolate, &source, cached ? v8::ScriptCompiler::kConsumeCodeCache : v8::ScriptCompiler::kNoCompileOptions));
            if (cached) {
              cache_result->has_rejected = true;
              cache_result->rejected = source.GetCachedData()->rejected;
            }
            if (cache.produce && (!cached || cache_result->rejected)) {
              std::unique_ptr<v8::ScriptCompiler::CachedData> made(v8::ScriptCompiler::CreateCodeCache(unbound));
              cache_result->produced = CopyBytes(made->data, size_t(made->length));
            }
            *script = MakeRemote(env, unbound);
          } catch (const JsPending&) {
            Local<Context> error_context = Context::New(isolate);
            Context::Scope scope(error_context);
            ThrowCaught(isolate, error_context, try_catch);
          }
        },
        [script, cache_result](Isolate* isolate, Local<Context> ctx) -> Local<Value> {
          Local<Object> object = NewScript(isolate, ctx, *script);
          cache_result->Apply(isolate, ctx, object);
          return object;
        });
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
          Isolate* isolate = env->isolate();
          Local<Context> ctx = Context::New(isolate);
          features.Apply(env, ctx);
          *context = MakeRemote(env, ctx);
          auto data = std::make_shared<ReferenceData>();
          data->value = MakeRemote<Value>(env, ctx->Global(), true);
          data->context = *context;
          data->type = "object";
          *global = data;
        },
        [context, global](Isolate* isolate, Local<Context> ctx) -> Local<Value> { return NewContext(isolate, ctx, *context, *global); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), env));
  }

  template <Mode M>
  void CompileModule(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(CompileModuleIn(M, info, Live()));
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
          auto set = [&](const char* name, double value) { (void)out->Set(ctx, V8Symbol(isolate, name), v8::Number::New(isolate, value)); };
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
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), env));
  }

  void Dispose(const FunctionCallbackInfo<Value>& info) {
    if (env_->disposed()) ThrowError(ErrorClass::Error, "Isolate is already disposed", "ERR_ISOLATE_DISPOSED");
    env_->Dispose();
    info.GetReturnValue().SetUndefined();
  }

  void IsDisposed(const FunctionCallbackInfo<Value>& info) { info.GetReturnValue().Set(env_->disposed()); }
  void CpuTime(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), env_->cpu_time_ns.load()));
  }
  void WallTime(const FunctionCallbackInfo<Value>& info) {
    info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), env_->wall_time_ns.load()));
  }
  void ReferenceCount(const FunctionCallbackInfo<Value>& info) { info.GetReturnValue().Set(double(env_->handle_count())); }
  void AdjustExternal(const FunctionCallbackInfo<Value>& info) { AdjustExternalMemory(info, env_); }

  void SetDynamicImportHook(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    EnvPtr env = Live();
    if (info[0]->IsNullOrUndefined()) {
      env->dynamic_import_hook.reset();
    } else {
      if (!info[0]->IsFunction()) ThrowTypeError("The dynamic import resolver must be a function");
      env->dynamic_import_hook = MakeCallbackData(isolate, isolate->GetCurrentContext(), info[0].As<Function>(), CallbackMode::Sync);
    }
    info.GetReturnValue().SetUndefined();
  }

  static Local<Value> CompileModuleIn(Mode mode, const FunctionCallbackInfo<Value>& info, const EnvPtr& env);

 private:
  EnvPtr env_;
};

Local<Value> IsolateHandle::CompileModuleIn(Mode mode, const FunctionCallbackInfo<Value>& info, const EnvPtr& env) {
  return CompileModuleTask(mode, info, env);
}

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
  SetMethod(isolate, tmpl, "compileScript", Bind<I, &I::CompileScript<Mode::Async>>);
  SetMethod(isolate, tmpl, "compileScriptSync", Bind<I, &I::CompileScript<Mode::Sync>>);
  SetMethod(isolate, tmpl, "compileModule", Bind<I, &I::CompileModule<Mode::Async>>);
  SetMethod(isolate, tmpl, "compileModuleSync", Bind<I, &I::CompileModule<Mode::Sync>>);
  SetMethod(isolate, tmpl, "createContext", Bind<I, &I::CreateContext<Mode::Async>>);
  SetMethod(isolate, tmpl, "createContextSync", Bind<I, &I::CreateContext<Mode::Sync>>);
  SetMethod(isolate, tmpl, "getHeapStatistics", Bind<I, &I::HeapStatistics<Mode::Async>>);
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
