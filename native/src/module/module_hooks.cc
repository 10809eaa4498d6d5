// The isolate-wide hooks V8 calls for ES modules: resolving a static import while
// instantiating (from the links the graph walk recorded), initialising import.meta, and
// dynamic import() (through the host's resolver, see index.ts setDynamicImportResolver).
#include "isolate/settle.h"
#include "module/module_info.h"

namespace islet {

using Mode = ThreePhaseTask::Mode;

namespace {

std::mutex& g_modules_mutex = *new std::mutex;
auto& g_modules = *new std::unordered_multimap<int, std::weak_ptr<ModuleInfo>>;

void InitializeMeta(Local<Context> context, Local<v8::Module> module, Local<Object> meta) {
  Isolate* isolate = context->GetIsolate();
  ModuleInfoPtr info = LookupModule(isolate, module);
  // The callback belongs to the module's own isolate (compileModule refuses it otherwise).
  if (!info || !info->meta || info->meta->env().get() != IsolateEnvironment::Current()) return;
  Local<Value> argv[] = {meta};
  (void)info->meta->function->Deref()->Call(context, v8::Undefined(isolate), 1, argv);
}

// State of one dynamic import() while the host resolves it.
struct DynamicImport : public Cancelable, public std::enable_shared_from_this<DynamicImport> {
  EnvPtr env;
  RemotePtr<v8::Promise::Resolver> resolver;
  RemotePtr<Context> context;
  std::atomic<bool> settled{false};
  void Cancel() override;
};

class DynamicSettle : public Runnable {
 public:
  DynamicSettle(std::shared_ptr<DynamicImport> state, ModuleInfoPtr module, TransferablePtr error)
      : state_(std::move(state)), module_(std::move(module)), error_(std::move(error)) {}
  void Run() override {
    SettleIn(*state_->env, state_->context, state_->resolver, [&](Isolate* isolate, Local<Context> context) {
      if (error_) return Settlement{true, error_->TransferIn(isolate, context)};
      if (module_->env() != state_->env) {
        ThrowTypeError("The dynamic import resolver returned a module of another isolate");
      }
      return Settlement{false, module_->module->Deref()->GetModuleNamespace()};
    });
  }

 private:
  std::shared_ptr<DynamicImport> state_;
  ModuleInfoPtr module_;
  TransferablePtr error_;
};

void DynamicImport::Cancel() {
  // The host's environment went away before it answered.
  if (settled.exchange(true)) return;
  ErrorData data;
  data.message = "The dynamic import was abandoned: Node's environment is shutting down";
  data.code = "ERR_ISOLATE_DISPOSED";
  env->Post(std::make_unique<DynamicSettle>(shared_from_this(), nullptr, ErrorTransferable(std::move(data))));
}

void SettleDynamic(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  std::shared_ptr<DynamicImport> state = DataOf<DynamicImport>(info);
  if (state->settled.exchange(true)) return;
  Guard(isolate, [&] {
    if (!info[0]->IsNullOrUndefined()) {
      state->env->Post(
          std::make_unique<DynamicSettle>(state, nullptr, CopyThrown(isolate, isolate->GetCurrentContext(), info[0])));
      return;
    }
    ModuleInfoPtr module = ModuleOf(isolate, info[1]);
    state->env->Post(std::make_unique<DynamicSettle>(state, module, nullptr));
  });
}

MaybeLocal<v8::Promise> ImportDynamically(Local<Context> context, Local<v8::Data>, Local<Value> resource_name,
                                          Local<String> specifier, Local<v8::FixedArray>) {
  Isolate* isolate = context->GetIsolate();
  Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return {};
  EnvPtr env = CurrentEnv();
  CallbackDataPtr hook = std::atomic_load(&env->dynamic_import_hook);
  if (!hook) {
    Local<Value> error =
        MakeErrorValue(isolate, ErrorData{ErrorClass::Error, "",
                                          "import() of '" + ToUtf8(isolate, specifier) +
                                              "' is not available: the host set no dynamic import resolver "
                                              "(isolate.setDynamicImportResolver)",
                                          "", "ERR_ISOLATE_NO_DYNAMIC_IMPORT", ""});
    (void)resolver->Reject(context, error);
    return resolver->GetPromise();
  }
  auto state = std::make_shared<DynamicImport>();
  state->env = env;
  state->resolver = MakeRemote(env, resolver);
  state->context = MakeRemote(env, context);
  hook->env()->AddCancelable(state);
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
        Local<Function> settle = NewFunctionWithData(node, ctx, SettleDynamic, state);
        Local<Value> argv[] = {V8String(node, spec), V8String(node, referrer),
                               NewContext(node, ctx, target_context, global), settle};
        if (hook->function->Deref()->Call(ctx, v8::Undefined(node), 4, argv).IsEmpty() && try_catch.HasCaught() &&
            try_catch.CanContinue()) {
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

}  // namespace

void RememberModule(const ModuleInfoPtr& info) {
  std::lock_guard<std::mutex> lock(g_modules_mutex);
  for (auto it = g_modules.begin(); it != g_modules.end();)
    it = it->second.expired() ? g_modules.erase(it) : std::next(it);
  g_modules.emplace(info->hash, info);
}

ModuleInfoPtr LookupModule(Isolate* isolate, Local<v8::Module> module) {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  std::vector<ModuleInfoPtr> candidates;
  {
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    auto range = g_modules.equal_range(module->GetIdentityHash());
    for (auto it = range.first; it != range.second; ++it) {
      // Compared by environment, which the info keeps alive: an isolate's address may be reused.
      if (ModuleInfoPtr info = it->second.lock()) {
        if (info->env().get() == env) candidates.push_back(info);
      }
    }
  }
  for (auto& info : candidates)
    if (info->module->Deref() == module) return info;
  return nullptr;
}

MaybeLocal<v8::Module> ResolveModuleLink(Local<Context> context, Local<String> specifier, Local<v8::FixedArray>,
                                         Local<v8::Module> referrer) {
  Isolate* isolate = context->GetIsolate();
  ModuleInfoPtr info = LookupModule(isolate, referrer);
  std::string name = ToUtf8(isolate, specifier);
  ModuleInfoPtr target;
  if (info) {
    std::lock_guard<std::mutex> lock(info->mutex);
    auto it = info->links.find(name);
    if (it != info->links.end()) target = it->second;
  }
  if (!target || target->env() != info->env()) {
    std::string message = "Cannot resolve module '" + name + "' imported from " +
                          (info ? info->filename : "a module islet did not compile");
    isolate->ThrowException(v8::Exception::Error(V8String(isolate, message)));
    return {};
  }
  return target->module->Deref();
}

void InstallModuleHooks(Isolate* isolate) {
  isolate->SetHostImportModuleDynamicallyCallback(ImportDynamically);
  isolate->SetHostInitializeImportMetaObjectCallback(InitializeMeta);
}

}  // namespace islet
