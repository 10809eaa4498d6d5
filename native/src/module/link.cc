// Linking a module graph: one walk for instantiate() and instantiateSync(). The walk runs in the
// caller's isolate, where the resolver and the Module objects live; for each static import of
// each module not yet linked it asks the resolver for the Module, records the link, and goes on
// to that module. The async form may be handed a Promise by the resolver: the walk then stops,
// and resumes from the same place when it settles. Once every link is known, the graph is
// instantiated in the target isolate (module_hooks.cc resolves V8's questions from the links).
#include <unordered_set>

#include "module/module_info.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

class LinkWalk : public std::enable_shared_from_this<LinkWalk> {
 public:
  LinkWalk(Isolate* isolate, Local<Context> context, Local<Function> resolve, bool async)
      : isolate_(isolate), context_(isolate, context), resolve_(isolate, resolve), async_(async) {}

  // Queues `info` (whose JS face is `object`) unless it was seen or its links are final.
  void Push(Local<Object> object, const ModuleInfoPtr& info) {
    if (!seen_.insert(info.get()).second) return;
    walked_.push_back(info);
    {
      std::lock_guard<std::mutex> lock(info->mutex);
      if (info->linked || info->namespace_ref) return;
    }
    stack_.push_back(Frame{info, v8::Global<Object>(isolate_, object), 0});
  }

  // Walks until every link is recorded (true) or the resolver returned a Promise (false: it is
  // in `*pending`; call Resume with its value). Throws the resolver's errors.
  bool Run(Local<v8::Promise>* pending) {
    Local<Context> context = context_.Get(isolate_);
    Local<Function> resolve = resolve_.Get(isolate_);
    while (!stack_.empty()) {
      Frame& frame = stack_.back();
      if (frame.next >= frame.info->specifiers.size()) {
        stack_.pop_back();
        continue;
      }
      const std::string& specifier = frame.info->specifiers[frame.next];
      Local<Value> argv[] = {V8String(isolate_, specifier), frame.object.Get(isolate_)};
      Local<Value> result = Check(resolve->Call(context, v8::Undefined(isolate_), 2, argv));
      if (IsThenable(context, result)) {
        if (!async_) {
          ThrowTypeError("The module resolver returned a Promise for '" + specifier +
                         "': use instantiate() (async) for asynchronous resolvers");
        }
        Local<v8::Promise::Resolver> settled = Check(v8::Promise::Resolver::New(context));
        Check(settled->Resolve(context, result));
        *pending = settled->GetPromise();
        return false;
      }
      Link(result);
    }
    return true;
  }

  void Resume(Local<Value> value) { Link(value); }

  const std::vector<ModuleInfoPtr>& walked() const { return walked_; }

  // Async form: the Promise returned to the caller, and what settles it.
  v8::Global<v8::Promise::Resolver> outer;
  RemotePtr<Context> target_context;

 private:
  struct Frame {
    ModuleInfoPtr info;
    v8::Global<Object> object;
    size_t next;
  };

  bool IsThenable(Local<Context> context, Local<Value> value) {
    if (value->IsPromise()) return true;
    if (!value->IsObject() || ClassHandle::Unwrap(isolate_, value)) return false;
    Local<Value> then = Check(value.As<Object>()->Get(context, V8Symbol(isolate_, "then")));
    return then->IsFunction();
  }

  void Link(Local<Value> value) {
    Frame& frame = stack_.back();
    std::string specifier = frame.info->specifiers[frame.next];
    ClassHandle* handle = ClassHandle::Unwrap(isolate_, value);
    if (!handle || handle->id() != ClassId::Module) {
      ThrowTypeError("Resolved dependency was not `Module`: the resolver returned " + Describe(isolate_, value) +
                     " for '" + specifier + "'");
    }
    ModuleInfoPtr target = ModuleOf(isolate_, value);
    if (target->env() != frame.info->env()) {
      ThrowTypeError("Resolved dependency '" + specifier + "' is a Module of another isolate");
    }
    {
      std::lock_guard<std::mutex> lock(frame.info->mutex);
      frame.info->links[specifier] = target;
    }
    frame.next++;
    Push(value.As<Object>(), target);  // may grow stack_: `frame` is not used after this
  }

  Isolate* isolate_;
  v8::Global<Context> context_;
  v8::Global<Function> resolve_;
  bool async_;
  std::vector<Frame> stack_;
  std::unordered_set<ModuleInfo*> seen_;
  std::vector<ModuleInfoPtr> walked_;
};

using WalkPtr = std::shared_ptr<LinkWalk>;

// The instantiation itself, in the target isolate; the walked modules' links become final.
Local<Value> Instantiate(Mode mode, const ModuleInfoPtr& root, RemotePtr<Context> context,
                         std::vector<ModuleInfoPtr> walked) {
  auto task = MakeTask(
      [root, context, walked = std::move(walked)] {
        Isolate* isolate = context->env()->isolate();
        Local<Context> ctx = context->Deref();
        InContext(isolate, ctx, [&] {
          Local<v8::Module> mod = root->module->Deref();
          if (mod->GetStatus() == v8::Module::kUninstantiated) Check(mod->InstantiateModule(ctx, ResolveModuleLink));
          auto ref = std::make_shared<ReferenceData>();
          ref->value = MakeRemote<Value>(context->env(), mod->GetModuleNamespace(), true);
          ref->context = context;
          ref->type = "object";
          for (auto& info : walked) {
            std::lock_guard<std::mutex> lock(info->mutex);
            info->linked = true;
          }
          std::lock_guard<std::mutex> lock(root->mutex);
          root->context = context;
          root->namespace_ref = ref;
        });
      },
      [](Isolate* isolate, Local<Context>) -> Local<Value> { return v8::Undefined(isolate); });
  return ThreePhaseTask::Execute(mode, std::move(task), root->env());
}

void Step(const WalkPtr& walk, Isolate* isolate);

void OnSettled(const FunctionCallbackInfo<Value>& info, bool fulfilled) {
  Isolate* isolate = info.GetIsolate();
  WalkPtr walk = DataOf<LinkWalk>(info);
  Local<Context> context = isolate->GetCurrentContext();
  Local<v8::Promise::Resolver> outer = walk->outer.Get(isolate);
  if (!fulfilled) {
    (void)outer->Reject(context, info[0]);
    return;
  }
  v8::TryCatch try_catch(isolate);
  Guard(isolate, [&] { walk->Resume(info[0]); });
  if (try_catch.HasCaught()) {
    if (!try_catch.CanContinue()) return;
    Local<Value> error = try_catch.Exception();
    try_catch.Reset();
    (void)outer->Reject(context, error);
    return;
  }
  Step(walk, isolate);
}

// Runs the walk as far as it goes, then waits for the resolver's Promise or instantiates.
void Step(const WalkPtr& walk, Isolate* isolate) {
  Local<Context> context = isolate->GetCurrentContext();
  Local<v8::Promise::Resolver> outer = walk->outer.Get(isolate);
  v8::TryCatch try_catch(isolate);
  Guard(isolate, [&] {
    Local<v8::Promise> pending;
    if (!walk->Run(&pending)) {
      auto on_fulfilled = [](const FunctionCallbackInfo<Value>& i) { OnSettled(i, true); };
      auto on_rejected = [](const FunctionCallbackInfo<Value>& i) { OnSettled(i, false); };
      Local<Function> fulfilled = NewFunctionWithData(isolate, context, on_fulfilled, walk);
      Local<Function> rejected = NewFunctionWithData(isolate, context, on_rejected, walk);
      Check(pending->Then(context, fulfilled, rejected));
      return;
    }
    Local<Value> done = Instantiate(Mode::Async, walk->walked().front(), walk->target_context, walk->walked());
    Check(outer->Resolve(context, done));
  });
  if (try_catch.HasCaught() && try_catch.CanContinue()) {
    Local<Value> error = try_catch.Exception();
    try_catch.Reset();
    (void)outer->Reject(context, error);
  }
}

}  // namespace

Local<Value> InstantiateGraph(Mode mode, Isolate* isolate, Local<Object> root_object, const ModuleInfoPtr& root,
                              RemotePtr<Context> context, Local<Value> resolve) {
  if (!resolve->IsFunction()) ThrowTypeError("instantiate(context, resolve): `resolve` must be a function");
  Local<Context> caller = isolate->GetCurrentContext();
  auto walk = std::make_shared<LinkWalk>(isolate, caller, resolve.As<Function>(), mode != Mode::Sync);
  walk->Push(root_object, root);
  if (mode == Mode::Sync) {
    Local<v8::Promise> unused;
    walk->Run(&unused);
    return Instantiate(mode, root, context, walk->walked());
  }
  Local<v8::Promise::Resolver> outer = Check(v8::Promise::Resolver::New(caller));
  walk->outer.Reset(isolate, outer);
  walk->target_context = std::move(context);
  Step(walk, isolate);
  return outer->GetPromise();
}

}  // namespace islet
