// Module: ES modules compiled in an isolate, linked through a resolver the host supplies
// (the graph walk, which may await the resolver, lives in index.ts; native code records the
// links and instantiates), evaluated once. Also the isolate-wide hooks V8 calls for modules:
// static import resolution, import.meta, and dynamic import().
#include <optional>
#include <unordered_map>

#include "module/handles.h"
#include "isolate/scope.h"

namespace islet {

using Mode = ThreePhaseTask::Mode;

struct ModuleInfo {
  RemotePtr<v8::Module> module;
  std::string filename;
  std::vector<std::string> specifiers;
  CallbackDataPtr meta;
  int hash = 0;
  Isolate* isolate = nullptr;

  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<ModuleInfo>> links;
  RemotePtr<Context> context;   // set by instantiate
  ReferenceDataPtr namespace_ref;  // set by instantiate
  bool evaluated = false;
  std::optional<ThrownValue> evaluation_error;
};
using ModuleInfoPtr = std::shared_ptr<ModuleInfo>;

namespace {

std::mutex& g_modules_mutex = *new std::mutex;
std::unordered_multimap<int, std::weak_ptr<ModuleInfo>>& g_modules = *new std::unordered_multimap<int, std::weak_ptr<ModuleInfo>>;

// Finds the info of a module compiled by us; the isolate is entered.
ModuleInfoPtr Lookup(Isolate* isolate, Local<v8::Module> module) {
  std::vector<ModuleInfoPtr> candidates;
  {
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    auto range = g_modules.equal_range(module->GetIdentityHash());
    for (auto it = range.first; it != range.second; ++it) {
      if (ModuleInfoPtr info = it->second.lock()) {
        if (info->isolate == isolate) candidates.push_back(info);
      }
    }
  }
  for (auto& info : candidates)
    if (info->module->Deref() == module) return info;
  return nullptr;
}

MaybeLocal<v8::Module> ResolveStatic(Local<Context> context, Local<String> specifier, Local<v8::FixedArray>, Local<v8::Module> referrer) {
  Isolate* isolate = context->GetIsolate();
  ModuleInfoPtr info = Lookup(isolate, referrer);
  std::string name = ToUtf8(isolate, specifier);
  ModuleInfoPtr target;
  if (info) {
    std::lock_guard<std::mutex> lock(info->mutex);
    auto it = info->links.find(name);
    if (it != info->links.end()) target = it->second;
  }
  if (!target || target->isolate != isolate) {
    std::string message = "Cannot resolve module '" + name + "' imported from " + (info ? info->filename : "a module islet did not compile");
    isolate->ThrowException(v8::Exception::Error(V8String(isolate, message)));
    return {};
  }
  return target->module->Deref();
}

void InitializeMeta(Local<Context> context, Local<v8::Module> module, Local<Object> meta) {
  Isolate* isolate = context->GetIsolate();
  ModuleInfoPtr info = Lookup(isolate, module);
  if (!info || !info->meta) return;
  try {
    if (info->meta->env().get() == IsolateEnvironment::Current()) {
      Local<Value> argv[] = {meta};
      (void)info->meta->function->Deref()->Call(context, v8::Undefined(isolate), 1, argv);
    } else {
      // Called from another isolate: it receives a Reference to the meta object.
      ReferenceDataPtr ref = MakeReferenceData(isolate, context, meta);
      std::vector<TransferablePtr> args{HandleTransfer([ref] { return MakeReferenceHandle(ref); })};
      CallSync(isolate, info->meta, std::move(args));
    }
  } catch (const ThrownValue& thrown) {
    ThrowInto(isolate, thrown);
  } catch (const JsPending&) {
  }
}

// State of one dynamic import() while the host resolves it.
struct DynamicImport {
  EnvPtr env;
  RemotePtr<v8::Promise::Resolver> resolver;
  RemotePtr<Context> context;
  std::atomic<bool> settled{false};
};

class DynamicSettle : public Runnable {
 public:
  DynamicSettle(std::shared_ptr<DynamicImport> state, ModuleInfoPtr module, TransferablePtr error)
      : state_(std::move(state)), module_(std::move(module)), error_(std::move(error)) {}
  void Run() override {
    EnvPtr env = state_->env;
    if (env->disposed() || env->torn_down()) return;
    Isolate* isolate = env->isolate();
    std::optional<ExecScope> scope;
    if (!env->is_default()) scope.emplace(*env);
    HandleScope handles(isolate);
    Local<Context> context = state_->context->Deref();
    Context::Scope context_scope(context);
    v8::TryCatch try_catch(isolate);
    Local<v8::Promise::Resolver> resolver = state_->resolver->Deref();
    try {
      if (error_) {
        (void)resolver->Reject(context, error_->TransferIn(isolate, context));
      } else if (module_->isolate != isolate) {
        (void)resolver->Reject(context, v8::Exception::TypeError(V8String(isolate, "The dynamic import resolver returned a module of another isolate")));
      } else {
        (void)resolver->Resolve(context, module_->module->Deref()->GetModuleNamespace());
      }
    } catch (...) {
    }
    if (!env->is_default()) isolate->PerformMicrotaskCheckpoint();
  }

 private:
  std::shared_ptr<DynamicImport> state_;
  ModuleInfoPtr module_;
  TransferablePtr error_;
};

ModuleInfoPtr ModuleOf(Isolate* isolate, Local<Value> value);

void SettleDynamic(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  auto* holder = static_cast<std::shared_ptr<DynamicImport>*>(info.Data().As<v8::External>()->Value());
  std::shared_ptr<DynamicImport> state = *holder;
  if (state->settled.exchange(true)) return;
  delete holder;  // settle is called at most once; the function keeps no other use for it
  Guard(isolate, [&] {
    if (!info[0]->IsNullOrUndefined()) {
      state->env->Post(std::make_unique<DynamicSettle>(state, nullptr, CopyThrown(isolate, isolate->GetCurrentContext(), info[0])));
      return;
    }
    ModuleInfoPtr module = ModuleOf(isolate, info[1]);
    state->env->Post(std::make_unique<DynamicSettle>(state, module, nullptr));
  });
}

MaybeLocal<v8::Promise> ImportDynamically(Local<Context> context, Local<v8::Data>, Local<Value> resource_name, Local<String> specifier, Local<v8::FixedArray>) {
  Isolate* isolate = context->GetIsolate();
  Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return {};
  EnvPtr env = CurrentEnv();
  CallbackDataPtr hook = env->dynamic_import_hook;
  if (!hook) {
    Local<Value> error = MakeErrorValue(isolate, ErrorData{ErrorClass::Error, "", "import() of '" + ToUtf8(isolate, specifier) +
        "' is not available: the host set no dynamic import resolver (isolate.setDynamicImportResolver)", "", "ERR_ISOLATE_NO_DYNAMIC_IMPORT", ""});
    (void)resolver->Reject(context, error);
    return resolver->GetPromise();
  }
  auto state = std::make_shared<DynamicImport>();
  state->env = env;
  state->resolver = MakeRemote(env, resolver);
  state->context = MakeRemote(env, context);
  auto global = std::make_shared<ReferenceData>();
  global->value = MakeRemote<Value>(env, context->Global(), true);
  global->context = state->context;
  global->type = "object";
  std::string spec = ToUtf8(isolate, specifier);
  std::string referrer = resource_name->IsString() ? ToUtf8(isolate, resource_name) : "";
  RemotePtr<Context> target_context = state->context;
  auto task = MakeTask(
      [hook, spec, referrer, state, target_context, global] {
        Isolate* node = hook->env()->isolate();
        Local<Context> ctx = hook->context->Deref();
        Context::Scope scope(ctx);
        v8::TryCatch try_catch(node);
        auto* holder = new std::shared_ptr<DynamicImport>(state);
        Local<Function> settle;
        if (!Function::New(ctx, SettleDynamic, v8::External::New(node, holder)).ToLocal(&settle)) return;
        Local<Value> argv[] = {V8String(node, spec), V8String(node, referrer), NewContext(node, ctx, target_context, global), settle};
        if (hook->function->Deref()->Call(ctx, v8::Undefined(node), 4, argv).IsEmpty() && try_catch.HasCaught()) {
          Local<Value> args[] = {try_catch.Exception()};
          try_catch.Reset();
          (void)settle->Call(ctx, v8::Undefined(node), 1, args);
        }
      },
      [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Undefined(isolate); });
  try {
    ThreePhaseTask::Execute(Mode::Ignored, std::move(task), hook->env());
  } catch (const ThrownValue& thrown) {
    (void)resolver->Reject(context, thrown.value->TransferIn(isolate, context));
  } catch (const JsPending&) {
    return {};
  }
  return resolver->GetPromise();
}

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
    for (size_t i = 0; i < module->specifiers.size(); ++i) Check(out->Set(isolate->GetCurrentContext(), uint32_t(i), V8String(isolate, module->specifiers[i])));
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

  void SetLink(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ModuleInfoPtr module = Info();
    std::string specifier = ToUtf8(isolate, info[0]);
    ModuleInfoPtr target = ModuleOf(isolate, info[1]);
    if (target->isolate != module->isolate) ThrowTypeError("Module for '" + specifier + "' was compiled in another isolate");
    std::lock_guard<std::mutex> lock(module->mutex);
    module->links[specifier] = target;
  }

  void IsLinked(const FunctionCallbackInfo<Value>& info) {
    ModuleInfoPtr module = Info();
    std::lock_guard<std::mutex> lock(module->mutex);
    info.GetReturnValue().Set(bool(module->namespace_ref));
  }

  template <Mode M>
  void Instantiate(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    ModuleInfoPtr module = Info();
    RemotePtr<Context> context = ContextOf(isolate, info[0]);
    if (context->env() != module->module->env()) ThrowTypeError("Invalid context: the module was compiled in another isolate");
    auto task = MakeTask(
        [module, context] {
          Isolate* isolate = context->env()->isolate();
          Local<Context> ctx = context->Deref();
          Context::Scope scope(ctx);
          v8::TryCatch try_catch(isolate);
          try {
            Local<v8::Module> mod = module->module->Deref();
            if (mod->GetStatus() == v8::Module::kUninstantiated) Check(mod->InstantiateModule(ctx, ResolveStatic));
            auto ref = std::make_shared<ReferenceData>();
            ref->value = MakeRemote<Value>(context->env(), mod->GetModuleNamespace(), true);
            ref->context = context;
            ref->type = "object";
            std::lock_guard<std::mutex> lock(module->mutex);
            module->context = context;
            module->namespace_ref = ref;
          } catch (const JsPending&) {
            ThrowCaught(isolate, ctx, try_catch);
          }
        },
        [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Undefined(isolate); });
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), module->module->env()));
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
    auto task = MakeTask(
        [module, context] {
          {
            std::lock_guard<std::mutex> lock(module->mutex);
            if (module->evaluated) {
              if (module->evaluation_error) throw *module->evaluation_error;
              return;
            }
          }
          Isolate* isolate = context->env()->isolate();
          Local<Context> ctx = context->Deref();
          Context::Scope scope(ctx);
          v8::TryCatch try_catch(isolate);
          std::optional<ThrownValue> error;
          try {
            Local<v8::Module> mod = module->module->Deref();
            Local<Value> result = Check(mod->Evaluate(ctx));
            if (!context->env()->is_default()) isolate->PerformMicrotaskCheckpoint();
            if (isolate->IsExecutionTerminating()) throw MakeThrown(ErrorClass::Error, "Execution was terminated", "ERR_ISOLATE_TERMINATED");
            if (result->IsPromise() && result.As<v8::Promise>()->State() == v8::Promise::kRejected) {
              throw CaptureException(isolate, ctx, result.As<v8::Promise>()->Result());
            }
            if (mod->GetStatus() == v8::Module::kErrored) throw CaptureException(isolate, ctx, mod->GetException());
          } catch (const JsPending&) {
            try {
              ThrowCaught(isolate, ctx, try_catch);
            } catch (const ThrownValue& thrown) {
              error = thrown;
            }
          } catch (const ThrownValue& thrown) {
            error = thrown;
          }
          bool terminated = error && isolate->IsExecutionTerminating();
          if (!terminated) {
            // A run cut by a limit is not the module's own result: do not remember it.
            std::lock_guard<std::mutex> lock(module->mutex);
            module->evaluated = true;
            module->evaluation_error = error;
          }
          if (error) throw *error;
        },
        [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Undefined(isolate); });
    task->ReadTimeouts(isolate, info[0]);
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), context->env()));
  }

  void Release(const FunctionCallbackInfo<Value>& info) {
    info_.reset();
    info.GetReturnValue().SetUndefined();
  }

 private:
  ModuleInfoPtr info_;
};

ModuleInfoPtr ModuleOf(Isolate* isolate, Local<Value> value) {
  return ClassHandle::UnwrapAs<ModuleHandle>(isolate, value)->Info();
}

}  // namespace

void InstallModuleHooks(Isolate* isolate) {
  isolate->SetHostImportModuleDynamicallyCallback(ImportDynamically);
  isolate->SetHostInitializeImportMetaObjectCallback(InitializeMeta);
}

Local<Value> CompileModuleTask(Mode mode, const FunctionCallbackInfo<Value>& info, const EnvPtr& env) {
  Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsString()) ThrowTypeError("`code` must be a string");
  CopiedValuePtr code = CopyPrimitive(isolate, info[0]);
  ScriptOriginOptions origin = ScriptOriginOptions::Parse(isolate, info[1]);
  CachedDataOptions cache = CachedDataOptions::Parse(isolate, info[1]);
  Local<Value> meta = Option(isolate, info[1], "meta");
  CallbackDataPtr meta_callback;
  if (!meta->IsUndefined()) {
    if (!meta->IsFunction()) ThrowTypeError("`meta` must be a function");
    meta_callback = MakeCallbackData(isolate, isolate->GetCurrentContext(), meta.As<Function>(), CallbackMode::Sync);
  }
  auto out = std::make_shared<ModuleInfoPtr>();
  auto cache_result = std::make_shared<CachedDataResult>();
  auto task = MakeTask(
      [env, code, origin, cache, meta_callback, out, cache_result] {
        Isolate* isolate = env->isolate();
        // Compiling needs no context; one is made only to describe a compile error.
        Local<Context> ctx;
        v8::TryCatch try_catch(isolate);
        try {
          v8::ScriptOrigin script_origin = origin.ToOrigin(isolate, true);
          v8::ScriptCompiler::CachedData* cached = nullptr;
          if (cache.cached_data) {
            auto store = BackingStoreOf(*cache.cached_data);
            cached = new v8::ScriptCompiler::CachedData(static_cast<const uint8_t*>(store->Data()), int(store->ByteLength()));
          }
          v8::ScriptCompiler::Source source(code->TransferIn(isolate, ctx).As<String>(), script_origin, cached);
          Local<v8::Module> module = Check(v8::ScriptCompiler::CompileModule(
              isolate, &source, cached ? v8::ScriptCompiler::kConsumeCodeCache : v8::ScriptCompiler::kNoCompileOptions));
          if (cached) {
            cache_result->has_rejected = true;
            cache_result->rejected = source.GetCachedData()->rejected;
          }
          if (cache.produce && (!cached || cache_result->rejected)) {
            std::unique_ptr<v8::ScriptCompiler::CachedData> made(v8::ScriptCompiler::CreateCodeCache(module->GetUnboundModuleScript()));
            cache_result->produced = CopyBytes(made->data, size_t(made->length));
          }
          auto info = std::make_shared<ModuleInfo>();
          info->module = MakeRemote(env, module);
          info->filename = origin.filename;
          info->meta = meta_callback;
          info->isolate = isolate;
          info->hash = module->GetIdentityHash();
          Local<v8::FixedArray> requests = module->GetModuleRequests();
          Local<Context> utility = env->UtilityContext();
          for (int i = 0; i < requests->Length(); ++i) {
            Local<v8::ModuleRequest> request = requests->Get(utility, i).As<v8::ModuleRequest>();
            info->specifiers.push_back(ToUtf8(isolate, request->GetSpecifier()));
          }
          {
            std::lock_guard<std::mutex> lock(g_modules_mutex);
            for (auto it = g_modules.begin(); it != g_modules.end();) it = it->second.expired() ? g_modules.erase(it) : std::next(it);
            g_modules.emplace(info->hash, info);
          }
          *out = info;
        } catch (const JsPending&) {
          Local<Context> error_context = Context::New(isolate);
          Context::Scope scope(error_context);
          ThrowCaught(isolate, error_context, try_catch);
        }
      },
      [out, cache_result](Isolate* isolate, Local<Context> ctx) -> Local<Value> {
        Local<Object> object = NewModule(isolate, ctx, *out);
        cache_result->Apply(isolate, ctx, object);
        return object;
      });
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
  SetMethod(isolate, tmpl, "_link", Bind<M, &M::SetLink>);
  SetMethod(isolate, tmpl, "_isLinked", Bind<M, &M::IsLinked>);
  SetMethod(isolate, tmpl, "_instantiate", Bind<M, &M::Instantiate<Mode::Async>>);
  SetMethod(isolate, tmpl, "_instantiateSync", Bind<M, &M::Instantiate<Mode::Sync>>);
  SetMethod(isolate, tmpl, "evaluate", Bind<M, &M::Evaluate<Mode::Async>>);
  SetMethod(isolate, tmpl, "evaluateSync", Bind<M, &M::Evaluate<Mode::Sync>>);
  SetMethod(isolate, tmpl, "release", Bind<M, &M::Release>);
  return tmpl;
}

}  // namespace islet
