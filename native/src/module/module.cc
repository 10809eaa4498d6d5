// Module: an ES module compiled in an isolate, linked through a resolver the host supplies
// (link.cc), instantiated, evaluated once (repeated calls give the first call's outcome).
#include "module/module_info.h"

namespace islet {

using Mode = ThreePhaseTask::Mode;

namespace {

class ModuleHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Module;
  static constexpr const char* kName = "Module";
  explicit ModuleHandle(ModuleInfoPtr info) : ClassHandle(kId), info_(std::move(info)) {}

  TransferablePtr TransferOut() override {
    ModuleInfoPtr info = Info();
    return HandleTransfer([info] { return new ModuleHandle(info); });
  }

  ModuleInfoPtr Info() const {
    if (!info_) ThrowError(ErrorClass::Error, "Module has been released", "ERR_ISOLATE_RELEASED");
    return info_;
  }

  void Specifiers(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ModuleInfoPtr module = Info();
    Local<v8::Array> out = v8::Array::New(isolate, int(module->specifiers.size()));
    for (size_t i = 0; i < module->specifiers.size(); ++i) {
      Check(out->Set(isolate->GetCurrentContext(), uint32_t(i), V8String(isolate, module->specifiers[i])));
    }
    info.GetReturnValue().Set(out);
  }

  void Namespace(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ModuleInfoPtr module = Info();
    ReferenceDataPtr ref;
    {
      std::lock_guard<std::mutex> lock(module->mutex);
      ref = module->namespace_ref;
    }
    if (!ref) ThrowError(ErrorClass::Error, "Module has not been instantiated");
    info.GetReturnValue().Set(NewReference(isolate, isolate->GetCurrentContext(), ref));
  }

  template <Mode M>
  void Instantiate(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ModuleInfoPtr module = Info();
    RemotePtr<Context> context = ContextOf(isolate, info[0]);
    if (context->env() != module->env()) ThrowTypeError("Invalid context: the module was compiled in another isolate");
    info.GetReturnValue().Set(InstantiateGraph(M, isolate, info.This(), module, std::move(context), info[1]));
  }

  template <Mode M>
  void Evaluate(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ModuleInfoPtr module = Info();
    RemotePtr<Context> context;
    {
      std::lock_guard<std::mutex> lock(module->mutex);
      context = module->context;
    }
    if (!context) ThrowError(ErrorClass::Error, "Module must be instantiated before it is evaluated");
    auto task = MakeTask([module, context] { EvaluateIn(module, context); },
                         [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Undefined(isolate); });
    task->ReadTimeouts(isolate, info[0]);
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), context->env()));
  }

  void Release(const FunctionCallbackInfo<Value>& info) {
    info_.reset();
    info.GetReturnValue().SetUndefined();
  }

 private:
  // In the module's isolate: runs it (or repeats the first run's outcome).
  static void EvaluateIn(const ModuleInfoPtr& module, const RemotePtr<Context>& context) {
    {
      std::lock_guard<std::mutex> lock(module->mutex);
      if (module->evaluated) {
        if (module->evaluation_error) throw *module->evaluation_error;
        return;
      }
    }
    Isolate* isolate = context->env()->isolate();
    Local<Context> ctx = context->Deref();
    std::optional<ThrownValue> error;
    try {
      InContext(isolate, ctx, [&] {
        Local<v8::Module> mod = module->module->Deref();
        Local<Value> result = Check(mod->Evaluate(ctx));
        if (!context->env()->is_default()) isolate->PerformMicrotaskCheckpoint();
        if (isolate->IsExecutionTerminating())
          throw MakeThrown(ErrorClass::Error, "Execution was terminated", "ERR_ISOLATE_TERMINATED");
        if (result->IsPromise() && result.As<v8::Promise>()->State() == v8::Promise::kRejected) {
          throw CaptureException(isolate, ctx, result.As<v8::Promise>()->Result());
        }
        if (mod->GetStatus() == v8::Module::kErrored) throw CaptureException(isolate, ctx, mod->GetException());
      });
    } catch (const ThrownValue& thrown) {
      error = thrown;
    }
    if (!(error && isolate->IsExecutionTerminating())) {
      // A run cut by a limit is not the module's own result: it is not remembered.
      std::lock_guard<std::mutex> lock(module->mutex);
      module->evaluated = true;
      module->evaluation_error = error;
    }
    if (error) throw *error;
  }

  ModuleInfoPtr info_;
};

}  // namespace

ModuleInfoPtr ModuleOf(Isolate* isolate, Local<Value> value) {
  return ClassHandle::UnwrapAs<ModuleHandle>(isolate, value)->Info();
}

Local<Value> CompileModuleTask(Mode mode, const FunctionCallbackInfo<Value>& info, const EnvPtr& env) {
  Isolate* isolate = info.GetIsolate();
  CompileInput input = CompileInput::Parse(isolate, info[0], info[1]);
  Local<Value> meta = Option(isolate, info[1], "meta");
  CallbackDataPtr meta_callback;
  if (!meta->IsUndefined()) {
    if (!meta->IsFunction()) ThrowTypeError("`meta` must be a function");
    // It must write import.meta synchronously when the module first reads it: only a function
    // of the module's own isolate can.
    if (IsolateEnvironment::Current() != env.get()) {
      ThrowTypeError("`meta` is only available when compiling a module from inside the isolate it belongs to");
    }
    meta_callback = MakeCallbackData(isolate, isolate->GetCurrentContext(), meta.As<Function>(), CallbackMode::Sync);
  }
  auto out = std::make_shared<ModuleInfoPtr>();
  auto cache = std::make_shared<CachedDataResult>();
  auto task = MakeTask(
      [env, input, meta_callback, out, cache] {
        Isolate* isolate = env->isolate();
        Local<v8::Module> module = CompileModuleIn(*env, input, cache.get());
        auto info = std::make_shared<ModuleInfo>();
        info->module = MakeRemote(env, module);
        info->filename = input.origin.filename;
        info->meta = meta_callback;
        info->hash = module->GetIdentityHash();
        Local<v8::FixedArray> requests = module->GetModuleRequests();
        Local<Context> utility = env->UtilityContext();
        for (int i = 0; i < requests->Length(); ++i) {
          Local<v8::ModuleRequest> request = requests->Get(utility, i).As<v8::ModuleRequest>();
          info->specifiers.push_back(ToUtf8(isolate, request->GetSpecifier()));
        }
        RememberModule(info);
        *out = info;
      },
      [out, cache](Isolate* isolate, Local<Context> ctx) -> Local<Value> {
        Local<Object> object = NewModule(isolate, ctx, *out);
        cache->Apply(isolate, ctx, object);
        return object;
      });
  task->runs_code = false;
  return ThreePhaseTask::Execute(mode, std::move(task), env);
}

Local<Object> NewModule(Isolate* isolate, Local<Context> context, std::shared_ptr<ModuleInfo> info) {
  return (new ModuleHandle(std::move(info)))->Wrap(isolate, context);
}

Local<FunctionTemplate> DefineModule(Isolate* isolate) {
  using M = ModuleHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "Module", PrivateConstructor);
  SetGetter(isolate, tmpl, "dependencySpecifiers", Bind<M, &M::Specifiers>);
  SetGetter(isolate, tmpl, "namespace", Bind<M, &M::Namespace>);
  SetMethod(isolate, tmpl, "instantiate", BindAsync<M, &M::Instantiate<Mode::Async>>);
  SetMethod(isolate, tmpl, "instantiateSync", Bind<M, &M::Instantiate<Mode::Sync>>);
  SetMethod(isolate, tmpl, "evaluate", BindAsync<M, &M::Evaluate<Mode::Async>>);
  SetMethod(isolate, tmpl, "evaluateSync", Bind<M, &M::Evaluate<Mode::Sync>>);
  SetMethod(isolate, tmpl, "release", Bind<M, &M::Release>);
  return tmpl;
}

}  // namespace islet
