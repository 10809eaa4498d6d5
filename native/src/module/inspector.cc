// InspectorSession: `isolate.createInspectorSession()` connects a Chrome DevTools protocol
// client to an isolate made with `{ inspector: true }`. The client sends with
// dispatchProtocolMessage(json) and receives through the callbacks it assigns:
// `session.onResponse = (callId, json) => ...` and `session.onNotification = (json) => ...`.
// See isolate/inspector_agent.h for the threads and the pause loop.
#include "isolate/inspector_agent.h"
#include "module/features.h"

namespace islet {

#if ISLET_INSPECTOR_ABI

namespace {

class InspectorSessionHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::InspectorSession;
  static constexpr const char* kName = "InspectorSession";
  InspectorSessionHandle(std::shared_ptr<InspectorAgent> agent, std::shared_ptr<InspectorSessionCore> core)
      : ClassHandle(kId), agent_(std::move(agent)), core_(std::move(core)) {}
  ~InspectorSessionHandle() override {
    if (auto agent = agent_.lock()) agent->RemoveSession(core_);
  }

  TransferablePtr TransferOut() override {
    ThrowTypeError("An InspectorSession cannot be transferred to another isolate");
  }

  void DispatchProtocolMessage(const FunctionCallbackInfo<Value>& info) {
    Isolate* isolate = info.GetIsolate();
    if (!info[0]->IsString()) ThrowTypeError("dispatchProtocolMessage(message): `message` must be a string");
    auto agent = agent_.lock();
    if (!agent) ThrowError(ErrorClass::Error, "Isolate is disposed", "ERR_ISOLATE_DISPOSED");
    Local<String> text = info[0].As<String>();
    std::u16string message(size_t(text->Length()), u'\0');
    text->Write(isolate, reinterpret_cast<uint16_t*>(message.data()), 0, text->Length(), String::NO_NULL_TERMINATION);
    agent->Dispatch(core_, std::move(message));
    info.GetReturnValue().SetUndefined();
  }

  void Dispose(const FunctionCallbackInfo<Value>& info) {
    if (auto agent = agent_.lock()) agent->RemoveSession(core_);
    core_->Close();
    info.GetReturnValue().SetUndefined();
  }

 private:
  std::weak_ptr<InspectorAgent> agent_;
  std::shared_ptr<InspectorSessionCore> core_;
};

}  // namespace

bool EnableInspector(const EnvPtr& env) { return InspectorAgent::Create(env) != nullptr; }

void InspectContext(const EnvPtr& env, Local<Context> context) {
  if (auto agent = InspectorAgent::Of(env)) agent->ContextCreated(env->isolate(), context);
}

void CreateInspectorSession(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    EnvPtr env = LiveIsolateEnv(isolate, info.This());
    std::shared_ptr<InspectorAgent> agent = InspectorAgent::Of(env);
    if (!agent)
      ThrowError(ErrorClass::Error,
                 "createInspectorSession() needs an isolate made with new Isolate({ inspector: true })");
    Local<Context> context = isolate->GetCurrentContext();
    Local<FunctionTemplate> tmpl = ClassHandle::Template(isolate, ClassId::InspectorSession);
    Local<Object> object = Check(tmpl->InstanceTemplate()->NewInstance(context));
    EnvPtr owner = CurrentEnv();
    auto core = std::make_shared<InspectorSessionCore>(owner, MakeRemote(owner, object), MakeRemote(owner, context));
    auto* handle = new InspectorSessionHandle(agent, core);
    handle->Adopt(isolate, object);
    agent->AddSession(core);
    info.GetReturnValue().Set(object);
  });
}

Local<FunctionTemplate> DefineInspectorSession(Isolate* isolate) {
  using S = InspectorSessionHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "InspectorSession", PrivateConstructor);
  SetMethod(isolate, tmpl, "dispatchProtocolMessage", Bind<S, &S::DispatchProtocolMessage>);
  SetMethod(isolate, tmpl, "dispose", Bind<S, &S::Dispose>);
  return tmpl;
}

#else  // V8 other than the one inspector_abi.h describes

bool EnableInspector(const EnvPtr&) {
  ThrowError(ErrorClass::Error,
             std::string("The inspector is not available in islet's addon for V8 ") + v8::V8::GetVersion(),
             "ERR_ISOLATE_NO_INSPECTOR");
}
void InspectContext(const EnvPtr&, Local<Context>) {}
void CreateInspectorSession(const FunctionCallbackInfo<Value>& info) {
  Guard(info.GetIsolate(), [] { EnableInspector(nullptr); });
}
Local<FunctionTemplate> DefineInspectorSession(Isolate* isolate) {
  return NewClassTemplate(isolate, "InspectorSession", PrivateConstructor);
}

#endif

}  // namespace islet
