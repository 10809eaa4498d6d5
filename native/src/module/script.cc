// Script: code compiled once in an isolate, run in any context of that isolate.
#include "module/handles.h"

namespace islet {
namespace {

using Mode = ThreePhaseTask::Mode;

class ScriptHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::Script;
  static constexpr const char* kName = "Script";
  explicit ScriptHandle(RemotePtr<v8::UnboundScript> script) : ClassHandle(kId), script_(std::move(script)) {}

  TransferablePtr TransferOut() override {
    RemotePtr<v8::UnboundScript> script = Target();
    return HandleTransfer([script] { return new ScriptHandle(script); });
  }

  RemotePtr<v8::UnboundScript> Target() const {
    if (!script_) ThrowError(ErrorClass::Error, "Script has been released", "ERR_ISOLATE_RELEASED");
    return script_;
  }

  void Release(const FunctionCallbackInfo<Value>& info) {
    script_.reset();
    info.GetReturnValue().SetUndefined();
  }

  template <Mode M>
  void Run(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    RemotePtr<v8::UnboundScript> script = Target();
    RemotePtr<Context> context = ContextOf(isolate, info[0]);
    if (context->env() != script->env()) ThrowTypeError("Invalid context: the script was compiled in another isolate");
    Local<Value> options = info[1];
    CheckOptions(options, "options");
    TransferOptions result_options = TransferOptions::Parse(isolate, options);
    if (OptionBool(isolate, options, "release")) script_.reset();
    auto out = std::make_shared<TransferablePtr>();
    auto task = MakeTask(
        [script, context, result_options, out] {
          Isolate* isolate = context->env()->isolate();
          Local<Context> ctx = context->Deref();
          InContext(isolate, ctx, [&] {
            Local<Value> result = Check(script->Deref()->BindToCurrentContext()->Run(ctx));
            *out = ::islet::TransferOut(isolate, ctx, result, result_options, Fallback::Undefined);
          });
        },
        [out](Isolate* isolate, Local<Context> ctx) { return (*out)->TransferIn(isolate, ctx); });
    task->ReadTimeouts(isolate, options);
    info.GetReturnValue().Set(ThreePhaseTask::Execute(M, std::move(task), context->env()));
  }

 private:
  RemotePtr<v8::UnboundScript> script_;
};

}  // namespace

Local<Object> NewScript(Isolate* isolate, Local<Context> context, RemotePtr<v8::UnboundScript> script) {
  return (new ScriptHandle(std::move(script)))->Wrap(isolate, context);
}

Local<FunctionTemplate> DefineScript(Isolate* isolate) {
  using S = ScriptHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "Script", PrivateConstructor);
  SetMethod(isolate, tmpl, "release", Bind<S, &S::Release>);
  SetMethod(isolate, tmpl, "run", BindAsync<S, &S::Run<Mode::Async>>);
  SetMethod(isolate, tmpl, "runSync", Bind<S, &S::Run<Mode::Sync>>);
  SetMethod(isolate, tmpl, "runIgnored", Bind<S, &S::Run<Mode::Ignored>>);
  return tmpl;
}

}  // namespace islet
