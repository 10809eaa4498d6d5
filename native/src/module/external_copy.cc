// ExternalCopy: a value copied out of every isolate, materialised wherever it is needed; and
// the objects returned by `copyInto()`, which materialise when they arrive.
#include "module/handles.h"

namespace islet {
namespace {

class ExternalCopyHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::ExternalCopy;
  static constexpr const char* kName = "ExternalCopy";
  explicit ExternalCopyHandle(CopiedValuePtr copy) : ClassHandle(kId), copy_(std::move(copy)) {}

  TransferablePtr TransferOut() override {
    CopiedValuePtr copy = Value();
    return HandleTransfer([copy] { return new ExternalCopyHandle(copy); });
  }

  CopiedValuePtr Value() const {
    if (!copy_) ThrowError(ErrorClass::Error, "The ExternalCopy has been released", "ERR_ISOLATE_RELEASED");
    return copy_;
  }
  CopiedValuePtr Peek() const { return copy_; }

  static void New(const FunctionCallbackInfo<v8::Value>& info) {
    Isolate* isolate = info.GetIsolate();
    Guard(isolate, [&] {
      if (!info.IsConstructCall()) ThrowTypeError("Class constructor ExternalCopy cannot be invoked without 'new'");
      CheckOptions(info[1], "options");
      Local<Context> context = isolate->GetCurrentContext();
      CopyOptions options;
      Local<v8::Value> list = Option(isolate, info[1], "transferList");
      if (!list->IsUndefined()) {
        if (!list->IsArray()) ThrowTypeError("`transferList` must be an array");
        Local<v8::Array> array = list.As<v8::Array>();
        for (uint32_t i = 0; i < array->Length(); ++i) options.transfer_list.push_back(Check(array->Get(context, i)));
      }
      options.transfer_out = OptionBool(isolate, info[1], "transferOut");
      CopiedValuePtr copy = CopyValue(isolate, context, info[0], options);
      (new ExternalCopyHandle(copy))->Adopt(isolate, info.This());
    });
  }

  static void TotalExternalSize(const FunctionCallbackInfo<v8::Value>& info) {
    info.GetReturnValue().Set(double(CopiedValue::TotalSize()));
  }

  void Copy(const FunctionCallbackInfo<v8::Value>& info) {
    Isolate* isolate = info.GetIsolate();
    CopiedValuePtr copy = Value();
    bool transfer_in = OptionBool(isolate, info[0], "transferIn");
    if (OptionBool(isolate, info[0], "release")) copy_.reset();
    info.GetReturnValue().Set(copy->CopyIn(isolate, isolate->GetCurrentContext(), transfer_in));
  }

  void CopyInto(const FunctionCallbackInfo<v8::Value>& info);

  void Release(const FunctionCallbackInfo<v8::Value>& info) {
    copy_.reset();
    info.GetReturnValue().SetUndefined();
  }

 private:
  CopiedValuePtr copy_;
};

class CopyIntoHandle : public ClassHandle {
 public:
  static constexpr ClassId kId = ClassId::CopyInto;
  static constexpr const char* kName = "CopyInto";
  CopyIntoHandle(CopiedValuePtr copy, bool transfer_in)
      : ClassHandle(kId), copy_(std::move(copy)), transfer_in_(transfer_in) {}

  TransferablePtr TransferOut() override {
    class Arrival : public Transferable {
     public:
      Arrival(CopiedValuePtr copy, bool transfer_in) : copy_(std::move(copy)), transfer_in_(transfer_in) {}
      Local<v8::Value> TransferIn(Isolate* isolate, Local<Context> context) override {
        return copy_->CopyIn(isolate, context, transfer_in_);
      }

     private:
      CopiedValuePtr copy_;
      bool transfer_in_;
    };
    if (!copy_) ThrowError(ErrorClass::Error, "The return value of `copyInto()` should only be used once");
    return std::make_shared<Arrival>(std::move(copy_), transfer_in_);
  }

 private:
  CopiedValuePtr copy_;
  bool transfer_in_;
};

void ExternalCopyHandle::CopyInto(const FunctionCallbackInfo<v8::Value>& info) {
  Isolate* isolate = info.GetIsolate();
  CopiedValuePtr copy = Value();
  bool transfer_in = OptionBool(isolate, info[0], "transferIn");
  if (OptionBool(isolate, info[0], "release")) copy_.reset();
  info.GetReturnValue().Set((new CopyIntoHandle(copy, transfer_in))->Wrap(isolate, isolate->GetCurrentContext()));
}

}  // namespace

ClassHandle* MakeExternalCopyHandle(CopiedValuePtr copy) { return new ExternalCopyHandle(std::move(copy)); }

CopiedValuePtr ExternalCopyValue(ClassHandle* handle) {
  if (!handle || handle->id() != ClassId::ExternalCopy) return nullptr;
  return static_cast<ExternalCopyHandle*>(handle)->Peek();
}

Local<Object> NewExternalCopy(Isolate* isolate, Local<Context> context, CopiedValuePtr copy) {
  return (new ExternalCopyHandle(std::move(copy)))->Wrap(isolate, context);
}

Local<FunctionTemplate> DefineExternalCopy(Isolate* isolate) {
  using E = ExternalCopyHandle;
  Local<FunctionTemplate> tmpl = NewClassTemplate(isolate, "ExternalCopy", E::New);
  SetMethod(isolate, tmpl, "copy", Bind<E, &E::Copy>);
  SetMethod(isolate, tmpl, "copyInto", Bind<E, &E::CopyInto>);
  SetMethod(isolate, tmpl, "release", Bind<E, &E::Release>);
  SetStaticGetter(isolate, tmpl, "totalExternalSize", E::TotalExternalSize);
  return tmpl;
}

Local<FunctionTemplate> DefineCopyInto(Isolate* isolate) {
  return NewClassTemplate(isolate, "CopyInto", PrivateConstructor);
}

}  // namespace islet
