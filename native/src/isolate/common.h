// Shared vocabulary of the addon: how errors travel between isolates and how strings cross
// the V8 API. Every other file includes this one.
//
// Errors are C++ exceptions inside the addon (built with -fexceptions): a failure deep in a
// task's run phase, on a pool thread, in another isolate, is carried as data (`ThrownValue`)
// and only becomes a JavaScript exception once control is back in the isolate that made the
// call. `JsPending` means "V8 already has an exception pending in the current isolate".
#pragma once

#include <node.h>
#include <v8.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>

namespace islet {

using v8::Context;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::HandleScope;
using v8::Isolate;
using v8::Local;
using v8::MaybeLocal;
using v8::Object;
using v8::String;
using v8::Value;

class Transferable;

// A V8 exception is already pending in the current isolate; unwind to the binding boundary.
struct JsPending {};

// The classes an error may take when it is rebuilt in another isolate.
enum class ErrorClass { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

// A value to throw in the caller's isolate. Usually an error described as data; may also be
// any copied value (a script can `throw 42`).
struct ThrownValue {
  std::shared_ptr<Transferable> value;
};

// Describes an error without belonging to any isolate.
struct ErrorData {
  ErrorClass cls = ErrorClass::Error;
  std::string name;  // when the thrown error was of a class we do not rebuild (kept for the stack)
  std::string message;
  std::string stack;               // empty: let the receiving isolate make one
  std::string code;                // islet's stable error code, empty when none
  std::string isolate_stack;       // JS stack captured in the isolate when a limit cut it
  bool has_isolate_stack = false;  // a limit cut the run: `isolateStack` is set (maybe empty)
};

[[noreturn]] void ThrowError(ErrorClass cls, std::string message, std::string code = "");
[[noreturn]] inline void ThrowTypeError(std::string message) { ThrowError(ErrorClass::TypeError, std::move(message)); }
[[noreturn]] void ThrowErrorData(ErrorData data);

// The error as a Transferable.
std::shared_ptr<Transferable> ErrorTransferable(ErrorData data);

// Builds the error object described by `data` in the current isolate and context.
Local<Value> MakeErrorValue(Isolate* isolate, const ErrorData& data);

// Converts a pending C++ exception (caught by the caller) into a JS throw in `isolate`.
void ThrowInto(Isolate* isolate, const ThrownValue& thrown);

// Captures a JavaScript exception caught in the current isolate as data for another isolate.
ThrownValue CaptureException(Isolate* isolate, Local<Context> context, Local<Value> exception);

std::string ToUtf8(Isolate* isolate, Local<Value> value);
// A short description of a value for error messages; never runs JavaScript.
std::string Describe(Isolate* isolate, Local<Value> value);
Local<String> V8String(Isolate* isolate, const std::string& text);
Local<String> V8Symbol(Isolate* isolate, const char* text);  // internalized, for property names

template <typename T>
Local<T> Check(MaybeLocal<T> maybe) {
  Local<T> out;
  if (!maybe.ToLocal(&out)) throw JsPending{};
  return out;
}
template <typename T>
T Check(v8::Maybe<T> maybe) {
  T out;
  if (!maybe.To(&out)) throw JsPending{};
  return out;
}

// Runs `body` and turns escaping C++ exceptions into JS exceptions in the callback's isolate.
template <typename Body>
void Guard(Isolate* isolate, Body&& body) {
  try {
    body();
  } catch (const JsPending&) {
    // already pending
  } catch (const ThrownValue& thrown) {
    ThrowInto(isolate, thrown);
  } catch (const std::exception& error) {
    // Never let a C++ exception unwind through V8's frames.
    isolate->ThrowException(
        v8::Exception::Error(V8String(isolate, std::string("islet internal error: ") + error.what())));
  }
}

// Reads an optional property of an options object; undefined when absent. TypeError when
// `options` is neither undefined, null nor an object (naming the argument `what`).
Local<Value> Option(Isolate* isolate, Local<Value> options, const char* name);
bool OptionBool(Isolate* isolate, Local<Value> options, const char* name);
void CheckOptions(Local<Value> options, const char* what);
// Time limits longer than this (about 24.8 days, as for setTimeout) are clamped to it.
constexpr double kMaxTimeoutMs = 2147483647;
// A number option in ms, 0 (no limit) when absent or 0; Infinity and huge values are clamped to
// kMaxTimeoutMs; TypeError naming the option for anything else but a non-negative number.
double OptionMs(Isolate* isolate, Local<Value> options, const char* name);

// `    at fn (file:line:column)` lines for the frames of `trace` (empty when it has none).
std::string FormatStackFrames(Isolate* isolate, Local<v8::StackTrace> trace);
// The line that separates an isolate's frames from its caller's in a joined stack.
constexpr const char* kBoundaryFrame = "    at (<isolated-vm boundary>)";

}  // namespace islet
