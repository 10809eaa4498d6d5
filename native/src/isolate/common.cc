// Error and string helpers shared by every file.
#include "isolate/common.h"

#include <unordered_map>

#include "isolate/environment.h"
#include "isolate/transfer.h"

namespace islet {
namespace {

// An error as data: rebuilt as the same class in whichever isolate receives it.
class ErrorCopy : public CopiedValue {
 public:
  explicit ErrorCopy(ErrorData data) : data_(std::move(data)) {}
  Local<Value> CopyIn(Isolate* isolate, Local<Context>, bool) override { return MakeErrorValue(isolate, data_); }

 private:
  ErrorData data_;
};

}  // namespace

std::shared_ptr<Transferable> ErrorTransferable(ErrorData data) { return std::make_shared<ErrorCopy>(std::move(data)); }

void ThrowErrorData(ErrorData data) { throw ThrownValue{ErrorTransferable(std::move(data))}; }

void ThrowError(ErrorClass cls, std::string message, std::string code) {
  ErrorData data;
  data.cls = cls;
  data.message = std::move(message);
  data.code = std::move(code);
  ThrowErrorData(std::move(data));
}

Local<Value> MakeErrorValue(Isolate* isolate, const ErrorData& data) {
  Local<String> message = V8String(isolate, data.message);
  Local<Value> error;
  switch (data.cls) {
    case ErrorClass::TypeError:
      error = v8::Exception::TypeError(message);
      break;
    case ErrorClass::RangeError:
      error = v8::Exception::RangeError(message);
      break;
    case ErrorClass::SyntaxError:
      error = v8::Exception::SyntaxError(message);
      break;
    case ErrorClass::ReferenceError:
      error = v8::Exception::ReferenceError(message);
      break;
    case ErrorClass::EvalError: {
      // No direct constructor in the API: look it up in the current context.
      Local<Context> context = isolate->GetCurrentContext();
      Local<Value> ctor;
      if (context->Global()->Get(context, V8Symbol(isolate, "EvalError")).ToLocal(&ctor) && ctor->IsFunction()) {
        Local<Value> args[] = {message};
        Local<Object> made;
        if (ctor.As<Function>()->NewInstance(context, 1, args).ToLocal(&made)) error = made;
      }
      if (error.IsEmpty()) error = v8::Exception::Error(message);
      break;
    }
    case ErrorClass::URIError: {
      Local<Context> context = isolate->GetCurrentContext();
      Local<Value> ctor;
      if (context->Global()->Get(context, V8Symbol(isolate, "URIError")).ToLocal(&ctor) && ctor->IsFunction()) {
        Local<Value> args[] = {message};
        Local<Object> made;
        if (ctor.As<Function>()->NewInstance(context, 1, args).ToLocal(&made)) error = made;
      }
      if (error.IsEmpty()) error = v8::Exception::Error(message);
      break;
    }
    default:
      error = v8::Exception::Error(message);
      break;
  }
  if (error->IsObject()) {
    Local<Object> object = error.As<Object>();
    Local<Context> context = isolate->GetCurrentContext();
    if (!data.name.empty()) (void)object->Set(context, V8Symbol(isolate, "name"), V8String(isolate, data.name));
    if (!data.stack.empty()) {
      // The isolate's stack, then the caller's frames (those of the error just made here).
      std::string stack = data.stack + "\n" + kBoundaryFrame;
      Local<Value> own;
      if (object->Get(context, V8Symbol(isolate, "stack")).ToLocal(&own) && own->IsString()) {
        std::string text = ToUtf8(isolate, own);
        size_t frames = text.find("\n    at ");
        if (frames != std::string::npos) stack += text.substr(frames);
      }
      (void)object->Set(context, V8Symbol(isolate, "stack"), V8String(isolate, stack));
    }
    if (!data.code.empty()) (void)object->Set(context, V8Symbol(isolate, "code"), V8String(isolate, data.code));
    if (data.has_isolate_stack || !data.isolate_stack.empty())
      (void)object->Set(context, V8Symbol(isolate, "isolateStack"), V8String(isolate, data.isolate_stack));
  }
  return error;
}

void ThrowInto(Isolate* isolate, const ThrownValue& thrown) {
  Local<Context> context = isolate->GetCurrentContext();
  Local<Value> value;
  try {
    value = thrown.value->TransferIn(isolate, context);
  } catch (const JsPending&) {
    return;
  } catch (const ThrownValue&) {
    value = v8::Exception::Error(V8String(isolate, "Could not rebuild an error thrown in another isolate"));
  }
  isolate->ThrowException(value);
}

ThrownValue CaptureException(Isolate* isolate, Local<Context> context, Local<Value> exception) {
  return ThrownValue{CopyThrown(isolate, context, exception)};
}

std::string ToUtf8(Isolate* isolate, Local<Value> value) {
  if (value.IsEmpty() || value->IsSymbol()) return "";
  // Objects are converted by their own toString: keep a throwing one from leaking out.
  v8::TryCatch try_catch(isolate);
  String::Utf8Value utf8(isolate, value);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string();
}

std::string Describe(Isolate* isolate, Local<Value> value) {
  if (value.IsEmpty() || value->IsUndefined()) return "undefined";
  if (value->IsNull()) return "null";
  if (value->IsSymbol()) return "a symbol";
  if (value->IsString()) {
    std::string text = ToUtf8(isolate, value);
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    return "'" + text + "'";
  }
  if (value->IsNumber() || value->IsBoolean() || value->IsBigInt()) return ToUtf8(isolate, value);
  if (value->IsFunction()) return "a function";
  if (value->IsArray()) return "an array";
  return "an object";
}

Local<String> V8String(Isolate* isolate, const std::string& text) {
  return String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal, int(text.size())).ToLocalChecked();
}

Local<String> V8Symbol(Isolate* isolate, const char* text) {
  return String::NewFromUtf8(isolate, text, v8::NewStringType::kInternalized).ToLocalChecked();
}

namespace {

// Option names are string literals read on every call (applySync reads six per request):
// internalizing them each time was ~1.5 us of a hello-world request. Node's own isolate keeps
// them as eternal handles, keyed by the literal's address. Only Node's isolate: it lives as long
// as its thread, while a tenant isolate's address may be reused by a later one.
Local<String> OptionName(Isolate* isolate, const char* name) {
  IsolateEnvironment* node_env = IsolateEnvironment::DefaultOnThisThread();
  if (node_env == nullptr || node_env->isolate() != isolate) return V8Symbol(isolate, name);
  thread_local std::unordered_map<const char*, v8::Eternal<String>> names;
  auto found = names.find(name);
  if (found != names.end()) return found->second.Get(isolate);
  Local<String> made = V8Symbol(isolate, name);
  names.emplace(name, v8::Eternal<String>(isolate, made));
  return made;
}

}  // namespace

void CheckOptions(Local<Value> options, const char* what) {
  if (options.IsEmpty() || options->IsNullOrUndefined() || options->IsObject()) return;
  ThrowTypeError(std::string("`") + what + "` must be an object");
}

Local<Value> Option(Isolate* isolate, Local<Value> options, const char* name) {
  if (options.IsEmpty() || options->IsNullOrUndefined()) return v8::Undefined(isolate);
  if (!options->IsObject())
    ThrowTypeError(std::string("The options argument must be an object (reading `") + name + "`)");
  Local<Value> value;
  if (!options.As<Object>()->Get(isolate->GetCurrentContext(), OptionName(isolate, name)).ToLocal(&value))
    throw JsPending{};
  return value;
}

bool OptionBool(Isolate* isolate, Local<Value> options, const char* name) {
  return Option(isolate, options, name)->BooleanValue(isolate);
}

double OptionMs(Isolate* isolate, Local<Value> options, const char* name) {
  Local<Value> value = Option(isolate, options, name);
  if (value->IsUndefined()) return 0;
  double ms = value->IsNumber() ? value.As<v8::Number>()->Value() : -1;
  if (!(ms >= 0)) {
    ThrowTypeError(std::string("`") + name + "` must be a non-negative number of milliseconds (got " +
                   ToUtf8(isolate, value) + ")");
  }
  return ms > kMaxTimeoutMs ? kMaxTimeoutMs : ms;
}

std::string FormatStackFrames(Isolate* isolate, Local<v8::StackTrace> trace) {
  std::string out;
  if (trace.IsEmpty()) return out;
  for (int i = 0; i < trace->GetFrameCount(); ++i) {
    Local<v8::StackFrame> frame = trace->GetFrame(isolate, i);
    std::string fn = ToUtf8(isolate, frame->GetFunctionName());
    std::string file = ToUtf8(isolate, frame->GetScriptNameOrSourceURL());
    if (file.empty() || file == "undefined") file = "<anonymous>";
    bool named = !fn.empty() && fn != "undefined";
    if (!out.empty()) out += "\n";
    out += "    at ";
    if (named) out += fn + " (";
    out += file + ":" + std::to_string(frame->GetLineNumber()) + ":" + std::to_string(frame->GetColumn());
    if (named) out += ")";
  }
  return out;
}

}  // namespace islet
