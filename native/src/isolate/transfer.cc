// The transfer rules: primitives, ArrayBuffers and views, SharedArrayBuffers, errors, and the
// structured clone (V8's ValueSerializer) for everything else.
#include "isolate/transfer.h"

#include <cstdlib>
#include <cstring>

#include "isolate/allocator.h"
#include "module/handles.h"

namespace islet {

std::atomic<size_t> CopiedValue::total_size_{0};

CopiedValue::~CopiedValue() { total_size_ -= size_; }
void CopiedValue::Account(size_t size) {
  size_ += size;
  total_size_ += size;
}

namespace {

std::shared_ptr<v8::BackingStore> OwnStore(size_t length) {
  void* data = std::malloc(length ? length : 1);
  if (!data) ThrowError(ErrorClass::RangeError, "Array buffer allocation failed");
  return v8::ArrayBuffer::NewBackingStore(data, length, [](void* ptr, size_t, void*) { std::free(ptr); }, nullptr);
}

// Primitives, split by kind so the common ones (numbers, booleans) stay small.
class ScalarCopy : public CopiedValue {
 public:
  enum class Kind : uint8_t { Undefined, Null, True, False, Number };
  ScalarCopy(Kind kind, double number) : kind_(kind), number_(number) {}
  Local<Value> CopyIn(Isolate* isolate, Local<Context>, bool) override {
    switch (kind_) {
      case Kind::Undefined: return v8::Undefined(isolate);
      case Kind::Null: return v8::Null(isolate);
      case Kind::True: return v8::True(isolate);
      case Kind::False: return v8::False(isolate);
      case Kind::Number: return v8::Number::New(isolate, number_);
    }
    return v8::Undefined(isolate);
  }

 private:
  Kind kind_;
  double number_;
};

class StringCopy : public CopiedValue {
 public:
  explicit StringCopy(std::string latin1) : one_byte_(true), latin1_(std::move(latin1)) {}
  explicit StringCopy(std::u16string utf16) : one_byte_(false), utf16_(std::move(utf16)) {}
  Local<Value> CopyIn(Isolate* isolate, Local<Context>, bool) override {
    if (one_byte_) {
      return Check(String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(latin1_.data()), v8::NewStringType::kNormal, int(latin1_.size())));
    }
    return Check(String::NewFromTwoByte(isolate, reinterpret_cast<const uint16_t*>(utf16_.data()), v8::NewStringType::kNormal, int(utf16_.size())));
  }

 private:
  bool one_byte_;
  std::string latin1_;
  std::u16string utf16_;
};

class BigIntCopy : public CopiedValue {
 public:
  BigIntCopy(int sign, std::vector<uint64_t> words) : sign_(sign), words_(std::move(words)) {}
  Local<Value> CopyIn(Isolate*, Local<Context> context, bool) override {
    return Check(v8::BigInt::NewFromWords(context, sign_, int(words_.size()), words_.data()));
  }

 private:
  int sign_;
  std::vector<uint64_t> words_;
};

class DateCopy : public CopiedValue {
 public:
  explicit DateCopy(double time) : time_(time) {}
  Local<Value> CopyIn(Isolate*, Local<Context> context, bool) override { return Check(v8::Date::New(context, time_)); }

 private:
  double time_;
};

enum class ViewKind { None, DataView, Int8, Uint8, Uint8Clamped, Int16, Uint16, Int32, Uint32, Float32, Float64, BigInt64, BigUint64 };

ViewKind KindOf(Local<v8::ArrayBufferView> view) {
  if (view->IsDataView()) return ViewKind::DataView;
  if (view->IsUint8Array()) return ViewKind::Uint8;
  if (view->IsInt8Array()) return ViewKind::Int8;
  if (view->IsUint8ClampedArray()) return ViewKind::Uint8Clamped;
  if (view->IsInt16Array()) return ViewKind::Int16;
  if (view->IsUint16Array()) return ViewKind::Uint16;
  if (view->IsInt32Array()) return ViewKind::Int32;
  if (view->IsUint32Array()) return ViewKind::Uint32;
  if (view->IsFloat32Array()) return ViewKind::Float32;
  if (view->IsFloat64Array()) return ViewKind::Float64;
  if (view->IsBigInt64Array()) return ViewKind::BigInt64;
  if (view->IsBigUint64Array()) return ViewKind::BigUint64;
  return ViewKind::Uint8;
}

template <typename Buffer>
Local<Value> MakeView(ViewKind kind, Local<Buffer> buffer, size_t offset, size_t bytes) {
  switch (kind) {
    case ViewKind::None: return buffer;
    case ViewKind::DataView: return v8::DataView::New(buffer, offset, bytes);
    case ViewKind::Int8: return v8::Int8Array::New(buffer, offset, bytes);
    case ViewKind::Uint8: return v8::Uint8Array::New(buffer, offset, bytes);
    case ViewKind::Uint8Clamped: return v8::Uint8ClampedArray::New(buffer, offset, bytes);
    case ViewKind::Int16: return v8::Int16Array::New(buffer, offset, bytes / 2);
    case ViewKind::Uint16: return v8::Uint16Array::New(buffer, offset, bytes / 2);
    case ViewKind::Int32: return v8::Int32Array::New(buffer, offset, bytes / 4);
    case ViewKind::Uint32: return v8::Uint32Array::New(buffer, offset, bytes / 4);
    case ViewKind::Float32: return v8::Float32Array::New(buffer, offset, bytes / 4);
    case ViewKind::Float64: return v8::Float64Array::New(buffer, offset, bytes / 8);
    case ViewKind::BigInt64: return v8::BigInt64Array::New(buffer, offset, bytes / 8);
    case ViewKind::BigUint64: return v8::BigUint64Array::New(buffer, offset, bytes / 8);
  }
  return buffer;
}

// ArrayBuffer / typed array / DataView memory, or a SharedArrayBuffer's shared memory.
class BufferCopy : public CopiedValue {
 public:
  BufferCopy(std::shared_ptr<v8::BackingStore> store, size_t offset, size_t length, ViewKind view, bool shared)
      : store_(std::move(store)), offset_(offset), length_(length), view_(view), shared_(shared) {
    if (!shared_) Account(store_->ByteLength());
  }

  std::shared_ptr<v8::BackingStore> Store() const override { return view_ == ViewKind::None && !shared_ ? store_ : nullptr; }

  Local<Value> CopyIn(Isolate* isolate, Local<Context>, bool transfer_in) override {
    if (shared_) return MakeView(view_, v8::SharedArrayBuffer::New(isolate, store_), offset_, length_);
    std::shared_ptr<v8::BackingStore> store;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!store_) ThrowError(ErrorClass::TypeError, "The ArrayBuffer was already transferred in");
      if (transfer_in) {
        store = std::move(store_);
        store_.reset();
      }
    }
    if (store) return MakeView(view_, v8::ArrayBuffer::New(isolate, store), offset_, length_);
    std::shared_ptr<v8::BackingStore> fresh = AllocateStore(isolate, length_);
    if (length_) std::memcpy(fresh->Data(), static_cast<uint8_t*>(store_->Data()) + offset_, length_);
    return MakeView(view_, v8::ArrayBuffer::New(isolate, fresh), 0, length_);
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<v8::BackingStore> store_;
  size_t offset_;
  size_t length_;
  ViewKind view_;
  bool shared_;
};

// Structured clone through V8's serializer. Islet handles inside the value travel as
// themselves, SharedArrayBuffers stay shared, transferred ArrayBuffers move.
class SerializedCopy : public CopiedValue {
 public:
  uint8_t* data = nullptr;
  size_t size = 0;
  std::vector<std::shared_ptr<v8::BackingStore>> shared;
  std::vector<std::shared_ptr<v8::BackingStore>> transferred;
  std::vector<TransferablePtr> host_objects;
  std::mutex mutex;
  bool transferred_used = false;

  ~SerializedCopy() override { std::free(data); }
  void Finalize() {
    size_t total = size;
    for (auto& store : transferred) total += store->ByteLength();
    Account(total);
  }

  Local<Value> CopyIn(Isolate* isolate, Local<Context> context, bool) override;
};

class Serializer : public v8::ValueSerializer::Delegate {
 public:
  Serializer(Isolate* isolate, SerializedCopy& out) : isolate_(isolate), out_(out), serializer_(isolate, this) {}
  v8::ValueSerializer& serializer() { return serializer_; }

  void ThrowDataCloneError(Local<String> message) override { isolate_->ThrowException(v8::Exception::TypeError(message)); }
  v8::Maybe<bool> WriteHostObject(Isolate* isolate, Local<Object> object) override {
    ClassHandle* handle = ClassHandle::Unwrap(isolate, object);
    if (!handle) {
      ThrowDataCloneError(V8String(isolate, "#<Object> could not be cloned."));
      return v8::Nothing<bool>();
    }
    serializer_.WriteUint32(uint32_t(out_.host_objects.size()));
    out_.host_objects.push_back(handle->TransferOut());
    return v8::Just(true);
  }
  v8::Maybe<uint32_t> GetSharedArrayBufferId(Isolate*, Local<v8::SharedArrayBuffer> buffer) override {
    out_.shared.push_back(buffer->GetBackingStore());
    return v8::Just(uint32_t(out_.shared.size() - 1));
  }

 private:
  Isolate* isolate_;
  SerializedCopy& out_;
  v8::ValueSerializer serializer_;
};

class Deserializer : public v8::ValueDeserializer::Delegate {
 public:
  Deserializer(Isolate* isolate, SerializedCopy& in) : isolate_(isolate), in_(in), deserializer_(isolate, in.data, in.size, this) {}
  v8::ValueDeserializer& deserializer() { return deserializer_; }

  MaybeLocal<Object> ReadHostObject(Isolate* isolate) override {
    uint32_t index;
    if (!deserializer_.ReadUint32(&index) || index >= in_.host_objects.size()) {
      isolate->ThrowException(v8::Exception::TypeError(V8String(isolate, "Corrupt copy")));
      return {};
    }
    try {
      Local<Value> value = in_.host_objects[index]->TransferIn(isolate, isolate->GetCurrentContext());
      if (value->IsObject()) return value.As<Object>();
      isolate->ThrowException(v8::Exception::TypeError(V8String(isolate, "A transferred handle did not produce an object")));
    } catch (const JsPending&) {
    } catch (const ThrownValue& thrown) {
      ThrowInto(isolate, thrown);
    }
    return {};
  }
  MaybeLocal<v8::SharedArrayBuffer> GetSharedArrayBufferFromId(Isolate* isolate, uint32_t id) override {
    if (id >= in_.shared.size()) return {};
    return v8::SharedArrayBuffer::New(isolate, in_.shared[id]);
  }

 private:
  Isolate* isolate_;
  SerializedCopy& in_;
  v8::ValueDeserializer deserializer_;
};

Local<Value> SerializedCopy::CopyIn(Isolate* isolate, Local<Context> context, bool) {
  Deserializer delegate(isolate, *this);
  v8::ValueDeserializer& deserializer = delegate.deserializer();
  if (!Check(deserializer.ReadHeader(context))) ThrowTypeError("Corrupt copy");
  bool first;
  {
    std::lock_guard<std::mutex> lock(mutex);
    first = !transferred_used;
    transferred_used = true;
  }
  for (size_t i = 0; i < transferred.size(); ++i) {
    // Transferred memory moves in once; later copies get their own bytes.
    std::shared_ptr<v8::BackingStore> store = transferred[i];
    if (!first) {
      std::shared_ptr<v8::BackingStore> fresh = AllocateStore(isolate, store->ByteLength());
      if (store->ByteLength()) std::memcpy(fresh->Data(), store->Data(), store->ByteLength());
      store = fresh;
    }
    deserializer.TransferArrayBuffer(uint32_t(i), v8::ArrayBuffer::New(isolate, store));
  }
  return Check(deserializer.ReadValue(context));
}

std::shared_ptr<v8::BackingStore> TakeBuffer(Local<v8::ArrayBuffer> buffer) {
  if (!buffer->IsDetachable()) ThrowTypeError("An ArrayBuffer in the transfer list cannot be detached");
  std::shared_ptr<v8::BackingStore> store = buffer->GetBackingStore();
  Check(buffer->Detach(Local<Value>()));
  return store;
}

bool InList(const std::vector<Local<Value>>& list, Local<Value> value) {
  for (auto& item : list)
    if (item->StrictEquals(value)) return true;
  return false;
}

}  // namespace

std::shared_ptr<v8::BackingStore> AllocateStore(Isolate* isolate, size_t length) {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  if (env && !env->is_default()) {
    // Through the isolate's counting allocator so the copy is charged to its memory limit.
    v8::ArrayBuffer::Allocator* allocator = isolate->GetArrayBufferAllocator();
    void* data = allocator->Allocate(length);
    if (!data) ThrowError(ErrorClass::RangeError, "Array buffer allocation failed");
    return v8::ArrayBuffer::NewBackingStore(
        data, length, [](void* ptr, size_t size, void* raw) { static_cast<v8::ArrayBuffer::Allocator*>(raw)->Free(ptr, size); }, allocator);
  }
  return OwnStore(length);
}

std::shared_ptr<v8::BackingStore> BackingStoreOf(const CopiedValue& copy) { return copy.Store(); }

CopiedValuePtr CopyBytes(const uint8_t* data, size_t length) {
  std::shared_ptr<v8::BackingStore> store = OwnStore(length);
  if (length) std::memcpy(store->Data(), data, length);
  return std::make_shared<BufferCopy>(store, 0, length, ViewKind::None, false);
}

CopiedValuePtr CopyPrimitive(Isolate* isolate, Local<Value> value) {
  using Kind = ScalarCopy::Kind;
  if (value->IsNumber()) return std::make_shared<ScalarCopy>(Kind::Number, value.As<v8::Number>()->Value());
  if (value->IsString()) {
    Local<String> string = value.As<String>();
    int length = string->Length();
    if (string->IsOneByte()) {
      std::string latin1(length, '\0');
      string->WriteOneByte(isolate, reinterpret_cast<uint8_t*>(latin1.data()), 0, length, String::NO_NULL_TERMINATION);
      return std::make_shared<StringCopy>(std::move(latin1));
    }
    std::u16string utf16(length, u'\0');
    string->Write(isolate, reinterpret_cast<uint16_t*>(utf16.data()), 0, length, String::NO_NULL_TERMINATION);
    return std::make_shared<StringCopy>(std::move(utf16));
  }
  if (value->IsUndefined()) return std::make_shared<ScalarCopy>(Kind::Undefined, 0);
  if (value->IsNull()) return std::make_shared<ScalarCopy>(Kind::Null, 0);
  if (value->IsBoolean()) return std::make_shared<ScalarCopy>(value->IsTrue() ? Kind::True : Kind::False, 0);
  if (value->IsBigInt()) {
    Local<v8::BigInt> big = value.As<v8::BigInt>();
    int count = big->WordCount();
    int sign = 0;
    std::vector<uint64_t> words(count);
    big->ToWordsArray(&sign, &count, words.data());
    return std::make_shared<BigIntCopy>(sign, std::move(words));
  }
  return nullptr;
}

CopiedValuePtr CopyValue(Isolate* isolate, Local<Context> context, Local<Value> value, const CopyOptions& options) {
  if (CopiedValuePtr primitive = CopyPrimitive(isolate, value)) return primitive;
  if (value->IsDate()) return std::make_shared<DateCopy>(value.As<v8::Date>()->ValueOf());
  if (value->IsArrayBuffer()) {
    Local<v8::ArrayBuffer> buffer = value.As<v8::ArrayBuffer>();
    size_t length = buffer->ByteLength();
    if (options.transfer_out || InList(options.transfer_list, value)) {
      return std::make_shared<BufferCopy>(TakeBuffer(buffer), 0, length, ViewKind::None, false);
    }
    std::shared_ptr<v8::BackingStore> store = OwnStore(length);
    if (length) std::memcpy(store->Data(), buffer->Data(), length);
    return std::make_shared<BufferCopy>(store, 0, length, ViewKind::None, false);
  }
  if (value->IsSharedArrayBuffer()) {
    Local<v8::SharedArrayBuffer> buffer = value.As<v8::SharedArrayBuffer>();
    return std::make_shared<BufferCopy>(buffer->GetBackingStore(), 0, buffer->ByteLength(), ViewKind::None, true);
  }
  if (value->IsArrayBufferView()) {
    Local<v8::ArrayBufferView> view = value.As<v8::ArrayBufferView>();
    ViewKind kind = KindOf(view);
    size_t offset = view->ByteOffset();
    size_t length = view->ByteLength();
    Local<Object> backing = view->Buffer();
    if (backing->IsSharedArrayBuffer()) {
      return std::make_shared<BufferCopy>(backing.As<v8::SharedArrayBuffer>()->GetBackingStore(), offset, length, kind, true);
    }
    Local<v8::ArrayBuffer> buffer = view->Buffer();
    if (options.transfer_out || InList(options.transfer_list, buffer)) {
      return std::make_shared<BufferCopy>(TakeBuffer(buffer), offset, length, kind, false);
    }
    std::shared_ptr<v8::BackingStore> store = OwnStore(length);
    if (length) view->CopyContents(store->Data(), length);
    return std::make_shared<BufferCopy>(store, 0, length, kind, false);
  }
  if (value->IsNativeError()) {
    return std::static_pointer_cast<CopiedValue>(CopyThrown(isolate, context, value));
  }
  if (value->IsSymbol()) ThrowTypeError("A Symbol could not be cloned.");
  if (value->IsFunction()) ThrowTypeError("A function could not be cloned.");

  auto copy = std::make_shared<SerializedCopy>();
  Serializer delegate(isolate, *copy);
  v8::ValueSerializer& serializer = delegate.serializer();
  std::vector<Local<v8::ArrayBuffer>> moving;
  for (auto& item : options.transfer_list) {
    if (!item->IsArrayBuffer()) continue;
    serializer.TransferArrayBuffer(uint32_t(moving.size()), item.As<v8::ArrayBuffer>());
    moving.push_back(item.As<v8::ArrayBuffer>());
  }
  serializer.WriteHeader();
  Check(serializer.WriteValue(context, value));
  for (auto& buffer : moving) copy->transferred.push_back(TakeBuffer(buffer));
  std::pair<uint8_t*, size_t> bytes = serializer.Release();
  copy->data = bytes.first;
  copy->size = bytes.second;
  copy->Finalize();
  return copy;
}

TransferablePtr CopyThrown(Isolate* isolate, Local<Context> context, Local<Value> exception) {
  if (exception->IsNativeError() && exception->IsObject()) {
    Local<Object> error = exception.As<Object>();
    ErrorData data;
    v8::TryCatch try_catch(isolate);
    auto read = [&](const char* name) -> std::string {
      Local<Value> value;
      if (!error->Get(context, V8Symbol(isolate, name)).ToLocal(&value) || !value->IsString()) return "";
      return ToUtf8(isolate, value);
    };
    std::string name = read("name");
    data.message = read("message");
    data.stack = read("stack");
    data.code = read("code");
    data.isolate_stack = read("isolateStack");
    if (name == "TypeError") data.cls = ErrorClass::TypeError;
    else if (name == "RangeError") data.cls = ErrorClass::RangeError;
    else if (name == "SyntaxError") data.cls = ErrorClass::SyntaxError;
    else if (name == "ReferenceError") data.cls = ErrorClass::ReferenceError;
    else if (name == "EvalError") data.cls = ErrorClass::EvalError;
    else if (name == "URIError") data.cls = ErrorClass::URIError;
    else if (name != "Error" && !name.empty()) data.name = name;
    return ErrorTransferable(std::move(data));
  }
  v8::TryCatch try_catch(isolate);
  try {
    CopiedValuePtr copy = CopyValue(isolate, context, exception);
    return copy;
  } catch (...) {
  }
  ErrorData data;
  data.message = ToUtf8(isolate, exception);
  return ErrorTransferable(std::move(data));
}

TransferOptions TransferOptions::Parse(Isolate* isolate, Local<Value> options) {
  TransferOptions out;
  if (options.IsEmpty() || !options->IsObject()) return out;
  int kinds = 0;
  if (OptionBool(isolate, options, "copy")) out.kind = Kind::Copy, kinds++;
  if (OptionBool(isolate, options, "externalCopy")) out.kind = Kind::ExternalCopy, kinds++;
  if (OptionBool(isolate, options, "reference")) out.kind = Kind::Reference, kinds++;
  if (kinds > 1) ThrowTypeError("Only one of `copy`, `externalCopy` or `reference` may be set");
  out.promise = OptionBool(isolate, options, "promise");
  return out;
}

TransferablePtr TransferOut(Isolate* isolate, Local<Context> context, Local<Value> value, const TransferOptions& options, Fallback fallback, bool functions) {
  if (options.promise && value->IsPromise()) {
    TransferOptions inner = options;
    inner.promise = false;
    return TransferPromise(isolate, context, value.As<v8::Promise>(), inner, fallback);
  }
  switch (options.kind) {
    case TransferOptions::Kind::Copy: {
      CopiedValuePtr copy = CopyValue(isolate, context, value);
      copy->one_shot = true;
      return copy;
    }
    case TransferOptions::Kind::ExternalCopy: {
      CopiedValuePtr copy = CopyValue(isolate, context, value);
      return HandleTransfer([copy] { return MakeExternalCopyHandle(copy); });
    }
    case TransferOptions::Kind::Reference: {
      ReferenceDataPtr data = MakeReferenceData(isolate, context, value);
      return HandleTransfer([data] { return MakeReferenceHandle(data); });
    }
    case TransferOptions::Kind::Default: break;
  }
  if (CopiedValuePtr primitive = CopyPrimitive(isolate, value)) return primitive;
  if (ClassHandle* handle = ClassHandle::Unwrap(isolate, value)) return handle->TransferOut();
  // Functions cross as callable proxies (Callbacks) unless an option says otherwise, as the
  // reference library does; `functions` is kept for call sites that document the intent.
  (void)functions;
  if (value->IsFunction()) {
    CallbackDataPtr data = MakeCallbackData(isolate, context, value.As<Function>(), CallbackMode::Sync);
    return CallbackTransfer(data);
  }
  switch (fallback) {
    case Fallback::Undefined: return CopyPrimitive(isolate, v8::Undefined(isolate));
    case Fallback::Reference: {
      ReferenceDataPtr data = MakeReferenceData(isolate, context, value);
      return HandleTransfer([data] { return MakeReferenceHandle(data); });
    }
    case Fallback::Throw: break;
  }
  ThrowTypeError("A non-transferable value was passed");
}

}  // namespace islet
