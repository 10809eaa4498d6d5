// The transfer rules: primitives (large strings become external strings shared with the copy),
// Dates, errors and thrown values, the TransferOptions of the isolate API; buffers and the
// structured clone live in buffers.cc and serialized.cc.
#include "isolate/transfer.h"

#include "isolate/allocator.h"
#include "isolate/environment.h"
#include "module/handles.h"

namespace islet {

std::atomic<size_t> CopiedValue::total_size_{0};

CopiedValue::~CopiedValue() { total_size_ -= size_; }
void CopiedValue::Account(size_t size) {
  size_ += size;
  total_size_ += size;
}

namespace {

// Strings at least this large (in bytes) are handed to a non-default isolate as external
// strings over the copy's own memory: no second copy, and the bytes are charged to the isolate.
constexpr size_t kExternalStringBytes = 1024;

// Primitives, split by kind so the common ones (numbers, booleans) stay small.
class ScalarCopy : public CopiedValue {
 public:
  enum class Kind : uint8_t { Undefined, Null, True, False, Number };
  ScalarCopy(Kind kind, double number) : kind_(kind), number_(number) {}
  Local<Value> CopyIn(Isolate* isolate, Local<Context>, bool) override {
    switch (kind_) {
      case Kind::Undefined:
        return v8::Undefined(isolate);
      case Kind::Null:
        return v8::Null(isolate);
      case Kind::True:
        return v8::True(isolate);
      case Kind::False:
        return v8::False(isolate);
      case Kind::Number:
        return v8::Number::New(isolate, number_);
    }
    return v8::Undefined(isolate);
  }

 private:
  Kind kind_;
  double number_;
};

// The memory of an external string: shares the copy's bytes and uncharges them when V8 lets go.
template <typename Base, typename Text, typename Char>
class SharedText : public Base {
 public:
  SharedText(std::shared_ptr<const Text> text, std::shared_ptr<CountingAllocator> allocator, size_t bytes)
      : text_(std::move(text)), allocator_(std::move(allocator)), bytes_(bytes) {}
  ~SharedText() override {
    if (allocator_) allocator_->Uncharge(bytes_, true);
  }
  const Char* data() const override { return reinterpret_cast<const Char*>(text_->data()); }
  size_t length() const override { return text_->size(); }

 private:
  std::shared_ptr<const Text> text_;
  std::shared_ptr<CountingAllocator> allocator_;
  size_t bytes_;
};
using SharedLatin1 = SharedText<String::ExternalOneByteStringResource, std::string, char>;
using SharedUtf16 = SharedText<String::ExternalStringResource, std::u16string, uint16_t>;

class StringCopy : public CopiedValue {
 public:
  explicit StringCopy(std::string latin1) : latin1_(std::make_shared<const std::string>(std::move(latin1))) {
    Account(latin1_->size());
  }
  explicit StringCopy(std::u16string utf16) : utf16_(std::make_shared<const std::u16string>(std::move(utf16))) {
    Account(utf16_->size() * 2);
  }

  Local<Value> CopyIn(Isolate* isolate, Local<Context>, bool) override {
    size_t bytes = latin1_ ? latin1_->size() : utf16_->size() * 2;
    IsolateEnvironment* env = IsolateEnvironment::Current();
    if (bytes >= kExternalStringBytes && env && !env->is_default() && env->allocator())
      return External(isolate, *env, bytes);
    if (latin1_) {
      return Check(String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(latin1_->data()),
                                          v8::NewStringType::kNormal, int(latin1_->size())));
    }
    return Check(String::NewFromTwoByte(isolate, reinterpret_cast<const uint16_t*>(utf16_->data()),
                                        v8::NewStringType::kNormal, int(utf16_->size())));
  }

 private:
  Local<Value> External(Isolate* isolate, IsolateEnvironment& env, size_t bytes) {
    if (!env.ChargeExternal(bytes)) {
      ThrowError(ErrorClass::RangeError, "A string copied into the isolate would take it past its memory limit");
    }
    MaybeLocal<String> made;
    if (latin1_) {
      auto* resource = new SharedLatin1(latin1_, env.allocator(), bytes);
      made = String::NewExternalOneByte(isolate, resource);
      if (made.IsEmpty()) delete resource;
    } else {
      // V8 reads the two-byte data as uint16_t; char16_t has the same size and representation.
      auto* resource = new SharedUtf16(std::shared_ptr<const std::u16string>(utf16_), env.allocator(), bytes);
      made = String::NewExternalTwoByte(isolate, resource);
      if (made.IsEmpty()) delete resource;
    }
    return Check(made);
  }

  std::shared_ptr<const std::string> latin1_;
  std::shared_ptr<const std::u16string> utf16_;
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

// Reads an error-like property without running more than a getter the object defines: strings
// as they are, other primitives converted, objects ignored.
bool ReadErrorProperty(Isolate* isolate, Local<Context> context, Local<Object> object, const char* name,
                       std::string* out) {
  v8::TryCatch try_catch(isolate);
  Local<Value> value;
  if (!object->Get(context, V8Symbol(isolate, name)).ToLocal(&value)) return false;
  if (value->IsString() || value->IsNumber() || value->IsBoolean() || value->IsBigInt()) {
    *out = ToUtf8(isolate, value);
    return true;
  }
  return false;
}

ErrorClass ClassOfName(const std::string& name) {
  if (name == "TypeError") return ErrorClass::TypeError;
  if (name == "RangeError") return ErrorClass::RangeError;
  if (name == "SyntaxError") return ErrorClass::SyntaxError;
  if (name == "ReferenceError") return ErrorClass::ReferenceError;
  if (name == "EvalError") return ErrorClass::EvalError;
  if (name == "URIError") return ErrorClass::URIError;
  return ErrorClass::Error;
}

}  // namespace

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
  if (CopiedValuePtr buffer = CopyBuffer(isolate, value, options)) return buffer;
  if (value->IsNativeError()) return std::static_pointer_cast<CopiedValue>(CopyThrown(isolate, context, value));
  if (value->IsSymbol()) ThrowTypeError("A Symbol could not be cloned.");
  if (value->IsFunction()) ThrowTypeError("A function could not be cloned.");
  return CopySerialized(isolate, context, value, options);
}

TransferablePtr CopyThrown(Isolate* isolate, Local<Context> context, Local<Value> exception) {
  if (exception->IsObject()) {
    Local<Object> object = exception.As<Object>();
    ErrorData data;
    bool has_message = ReadErrorProperty(isolate, context, object, "message", &data.message);
    bool has_stack = ReadErrorProperty(isolate, context, object, "stack", &data.stack);
    if (exception->IsNativeError() || has_message || has_stack) {
      std::string name;
      ReadErrorProperty(isolate, context, object, "name", &name);
      ReadErrorProperty(isolate, context, object, "code", &data.code);
      data.has_isolate_stack = ReadErrorProperty(isolate, context, object, "isolateStack", &data.isolate_stack);
      IsolateEnvironment* env = IsolateEnvironment::Current();
      if (!data.has_isolate_stack && env && !env->is_default()) {
        // Thrown in an isolate: its own frames are also kept apart from those the caller's
        // side will join to `stack` (a host can show a tenant its stack and nothing of its own).
        size_t frames = data.stack.find("\n    at ");
        data.isolate_stack = frames == std::string::npos ? "" : data.stack.substr(frames + 1);
        data.has_isolate_stack = true;
      }
      data.cls = ClassOfName(name);
      if (data.cls == ErrorClass::Error && name != "Error" && !name.empty()) data.name = name;
      return ErrorTransferable(std::move(data));
    }
  } else if (CopiedValuePtr primitive = CopyPrimitive(isolate, exception)) {
    return primitive;  // `throw 42` arrives as 42
  }
  ErrorData data;
  data.message =
      "An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.";
  return ErrorTransferable(std::move(data));
}

TransferOptions TransferOptions::Parse(Isolate* isolate, Local<Value> options) {
  TransferOptions out;
  if (options.IsEmpty() || options->IsNullOrUndefined()) return out;
  int kinds = 0;
  if (OptionBool(isolate, options, "copy")) out.kind = Kind::Copy, kinds++;
  if (OptionBool(isolate, options, "externalCopy")) out.kind = Kind::ExternalCopy, kinds++;
  if (OptionBool(isolate, options, "reference")) out.kind = Kind::Reference, kinds++;
  if (kinds > 1) ThrowTypeError("Only one of `copy`, `externalCopy` or `reference` may be set");
  out.promise = OptionBool(isolate, options, "promise");
  return out;
}

TransferablePtr TransferOut(Isolate* isolate, Local<Context> context, Local<Value> value,
                            const TransferOptions& options, Fallback fallback, bool functions) {
  if (options.promise) {
    // The receiver gets a Promise either way: a value that is not one arrives already settled.
    Local<v8::Promise> promise;
    if (value->IsPromise()) {
      promise = value.As<v8::Promise>();
    } else {
      Local<v8::Promise::Resolver> resolver = Check(v8::Promise::Resolver::New(context));
      Check(resolver->Resolve(context, value));
      promise = resolver->GetPromise();
    }
    TransferOptions inner = options;
    inner.promise = false;
    return TransferPromise(isolate, context, promise, inner, fallback);
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
      ReferenceDataPtr data = MakeReferenceData(isolate, context, value, options.inherit);
      return HandleTransfer([data] { return MakeReferenceHandle(data); });
    }
    case TransferOptions::Kind::Default:
      break;
  }
  if (CopiedValuePtr primitive = CopyPrimitive(isolate, value)) return primitive;
  if (ClassHandle* handle = ClassHandle::Unwrap(isolate, value)) return handle->TransferOut();
  if (value->IsObject() && IsLibraryObject(isolate, value.As<Object>())) return LibraryTransfer();
  // Functions cross as callable proxies (Callbacks) unless an option says otherwise, as the
  // reference library does; `functions` is kept for call sites that document the intent.
  (void)functions;
  if (value->IsFunction()) {
    CallbackDataPtr data = MakeCallbackData(isolate, context, value.As<Function>(), CallbackMode::Sync);
    return CallbackTransfer(data);
  }
  switch (fallback) {
    case Fallback::Undefined:
      return CopyPrimitive(isolate, v8::Undefined(isolate));
    case Fallback::Reference: {
      ReferenceDataPtr data = MakeReferenceData(isolate, context, value, options.inherit);
      return HandleTransfer([data] { return MakeReferenceHandle(data); });
    }
    case Fallback::Throw:
      break;
  }
  ThrowTypeError("A non-transferable value was passed");
}

}  // namespace islet
