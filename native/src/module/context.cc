// Context: a global scope inside an isolate; eval and evalClosure run code in it.
#include "module/handles.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

class ContextHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Context;
  static constexpr const char* kName = "Context";
  ContextHandle(RemotePtr<Context> context, ReferenceDataPtr global)
      : ClassHandle(kId), context_(std::move(context)), global_data_(std::move(global)) {}

  TransferablePtr TransferOut() override {
    RemotePtr<Context> context = Target();
    ReferenceDataPtr global = global_data_;
    return HandleTransfer([context, global] { return new ContextHandle(context, global); });
  }

  RemotePtr<Context> Target() const {
    if (!context_) ThrowError(ErrorClass::Error, "Context has been released", "ERR_ISOLATE_RELEASED");
    return context_;
  }

  void GlobalGetter(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Target();
    if (!global_)
      global_ = MakeRemote<Object>(CurrentEnv(), NewReference(isolate, isolate->GetCurrentContext(), global_data_));
    info.GetReturnValue().Set(global_->Deref());
  }

  void Release(const FunctionCallbackInfo<Value>& info) {
    context_.reset();
    if (global_) ReleaseReference(info.GetIsolate(), global_->Deref());
    global_.reset();
    global_data_.reset();
    info.GetReturnValue().SetUndefined();
  }

  template <Mode M>
  void Eval(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    RemotePtr<Context> context = Target();
    Local<Value> options = info[1];
    CompileInput input = CompileInput::Parse(isolate, info[0], options);
    TransferOptions result_options = TransferOptions::Parse(isolate, options);
    auto out = std::make_shared<TransferablePtr>();
    auto task = MakeTask(
        [context, input, result_options, out] {
          Isolate* isolate = context->env()->isolate();
          Local<Context> ctx = context->Deref();
          Local<v8::Script> script = CompileInContext(isolate, ctx, input);
          InContext(isolate, ctx, [&] {
            Local<Value> result = Check(script->Run(ctx));
            *out = ::islet::TransferOut(isolate, ctx, result, result_options, Fallback::Undefined);
          });
        },
        [out](Isolate* isolate, Local<Context> ctx) { return (*out)->TransferIn(isolate, ctx); });
    task->ReadTimeouts(isolate, options);
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), context->env()));
  }

  template <Mode M>
  void EvalClosure(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Local<Context> caller_context = isolate->GetCurrentContext();
    RemotePtr<Context> context = Target();
    if (!info[0]->IsString()) ThrowTypeError("`code` must be a string");
    CopiedValuePtr code = CopyPrimitive(isolate, info[0]);
    Local<Value> options = info[2];
    CheckOptions(options, "options");
    ScriptOriginOptions origin = ScriptOriginOptions::Parse(isolate, options);
    TransferOptions arg_options = TransferOptions::Parse(isolate, Option(isolate, options, "arguments"));
    TransferOptions result_options = TransferOptions::Parse(isolate, Option(isolate, options, "result"));
    std::vector<TransferablePtr> args = TransferArguments(isolate, caller_context, info[1], arg_options);
    auto out = std::make_shared<TransferablePtr>();
    auto task = MakeTask(
        [context, code, origin, args = std::move(args), result_options, out] {
          Isolate* isolate = context->env()->isolate();
          Local<Context> ctx = context->Deref();
          InContext(isolate, ctx, [&] {
            std::vector<Local<String>> names;
            std::vector<Local<Value>> argv;
            for (size_t i = 0; i < args.size(); ++i) {
              names.push_back(V8String(isolate, "$" + std::to_string(i)));
              argv.push_back(args[i]->TransferIn(isolate, ctx));
            }
            v8::ScriptOrigin script_origin = origin.ToOrigin(isolate);
            v8::ScriptCompiler::Source source(code->TransferIn(isolate, ctx).As<String>(), script_origin);
            Local<Function> fn = Check(v8::ScriptCompiler::CompileFunction(ctx, &source, names.size(), names.data()));
            Local<Value> result = Check(fn->Call(ctx, v8::Undefined(isolate), int(argv.size()), argv.data()));
            *out = ::islet::TransferOut(isolate, ctx, result, result_options, Fallback::Throw);
          });
        },
        [out](Isolate* isolate, Local<Context> ctx) { return (*out)->TransferIn(isolate, ctx); });
    task->ReadTimeouts(isolate, options);
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), context->env()));
  }

 private:
  RemotePtr<Context> context_;
  ReferenceDataPtr global_data_;
  RemotePtr<Object> global_;  // the Reference object handed out by `global`, in this handle's isolate
};

}  // namespace

std::vector<TransferablePtr> TransferArguments(Isolate* isolate, Local<Context> context, Local<Value> list,
                                               const TransferOptions& options) {
  std::vector<TransferablePtr> args;
  if (list->IsNullOrUndefined()) return args;
  if (!list->IsArray()) ThrowTypeError("`arguments` must be an array");
  Local<v8::Array> array = list.As<v8::Array>();
  uint32_t length = array->Length();
  args.reserve(std::min<uint32_t>(length, 64));
  for (uint32_t i = 0; i < length; ++i) {
    args.push_back(
        ::islet::TransferOut(isolate, context, Check(array->Get(context, i)), options, Fallback::Throw, true));
  }
  return args;
}

Local<Object> NewContext(Isolate* isolate, Local<Context> context, RemotePtr<Context> target, ReferenceDataPtr global) {
  return (new ContextHandle(std::move(target), std::move(global)))->Wrap(isolate, context);
}

RemotePtr<Context> ContextOf(Isolate* isolate, Local<Value> value) {
  return ClassHandle::UnwrapAs<ContextHandle>(isolate, value)->Target();
}

Local<FunctionTemplate> DefineContext(Isolate* isolate) {
  using C = ContextHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "Context", PrivateConstructor);
  SetGetter(isolate, tmpl, "global", Bind<C, &C::GlobalGetter>);
  SetMethod(isolate, tmpl, "release", Bind<C, &C::Release>);
  SetMethod(isolate, tmpl, "eval", BindAsync<C, &C::Eval<Mode::Async>>);
  SetMethod(isolate, tmpl, "evalSync", Bind<C, &C::Eval<Mode::Sync>>);
  SetMethod(isolate, tmpl, "evalIgnored", Bind<C, &C::Eval<Mode::Ignored>>);
  SetMethod(isolate, tmpl, "evalClosure", BindAsync<C, &C::EvalClosure<Mode::Async>>);
  SetMethod(isolate, tmpl, "evalClosureSync", Bind<C, &C::EvalClosure<Mode::Sync>>);
  SetMethod(isolate, tmpl, "evalClosureIgnored", Bind<C, &C::EvalClosure<Mode::Ignored>>);
  return tmpl;
}

}  // namespace islet
