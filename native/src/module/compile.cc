// Compiling scripts and modules (see compile.h).
#include "module/compile.h"

#include "isolate/task.h"
#include "module/handles.h"

namespace islet {
namespace {

// Appends ` [file:line:column]` to a compile error's message (and the first line of its stack),
// as the reference library does: a SyntaxError has no frames that would say where it is.
void AnnotateCompileError(Isolate* isolate, Local<Context> context, v8::TryCatch& try_catch) {
  if (!try_catch.HasCaught() || try_catch.HasTerminated() || !try_catch.Exception()->IsObject()) return;
  Local<v8::Message> message = try_catch.Message();
  if (message.IsEmpty()) return;
  Local<Object> error = try_catch.Exception().As<Object>();
  std::string name = ToUtf8(isolate, message->GetScriptResourceName());
  if (name.empty()) name = "<isolated-vm>";
  std::string where = " [" + name + ":" + std::to_string(message->GetLineNumber(context).FromMaybe(0)) + ":" +
                      std::to_string(message->GetStartColumn(context).FromMaybe(0) + 1) + "]";
  v8::TryCatch inner(isolate);
  Local<Value> text;
  if (!error->Get(context, V8Symbol(isolate, "message")).ToLocal(&text) || !text->IsString()) return;
  std::string old_message = ToUtf8(isolate, text);
  (void)error->Set(context, V8Symbol(isolate, "message"), V8String(isolate, old_message + where));
  Local<Value> stack;
  if (error->Get(context, V8Symbol(isolate, "stack")).ToLocal(&stack) && stack->IsString()) {
    std::string old_stack = ToUtf8(isolate, stack);
    size_t at = old_stack.find(old_message);
    if (at != std::string::npos) {
      old_stack.insert(at + old_message.size(), where);
      (void)error->Set(context, V8Symbol(isolate, "stack"), V8String(isolate, old_stack));
    }
  }
}

// The shape of every compile: in `context`, under a TryCatch, consuming and producing code
// cache as asked; `compile(source, options)` makes the V8 call, `unbound(result)` gives what a
// code cache is made from.
template <typename Compile, typename Unbound>
auto CompileWith(Isolate* isolate, Local<Context> context, const CompileInput& input, bool is_module,
                 CachedDataResult* cache, Compile compile, Unbound unbound) {
  Context::Scope scope(context);
  v8::TryCatch try_catch(isolate);
  try {
    v8::ScriptOrigin origin = input.origin.ToOrigin(isolate, is_module);
    v8::ScriptCompiler::CachedData* cached = nullptr;
    if (input.cache.cached_data) {
      auto store = BackingStoreOf(*input.cache.cached_data);
      if (store)
        cached =
            new v8::ScriptCompiler::CachedData(static_cast<const uint8_t*>(store->Data()), int(store->ByteLength()));
    }
    v8::ScriptCompiler::Source source(input.code->TransferIn(isolate, context).As<String>(), origin, cached);
    auto result =
        Check(compile(&source, cached ? v8::ScriptCompiler::kConsumeCodeCache : v8::ScriptCompiler::kNoCompileOptions));
    if (cache && cached) {
      cache->has_rejected = true;
      cache->rejected = source.GetCachedData()->rejected;
    }
    if (cache && input.cache.produce && (!cached || cache->rejected)) {
      std::unique_ptr<v8::ScriptCompiler::CachedData> made(v8::ScriptCompiler::CreateCodeCache(unbound(result)));
      if (made) cache->produced = CopyBytes(made->data, size_t(made->length));
    }
    return result;
  } catch (const JsPending&) {
    AnnotateCompileError(isolate, context, try_catch);
    ThrowCaught(isolate, context, try_catch);
  }
}

}  // namespace

ScriptOriginOptions ScriptOriginOptions::Parse(Isolate* isolate, Local<Value> options) {
  ScriptOriginOptions out;
  Local<Value> filename = Option(isolate, options, "filename");
  if (!filename->IsUndefined()) {
    if (!filename->IsString()) ThrowTypeError("`filename` must be a string");
    out.filename = ToUtf8(isolate, filename);
  }
  Local<Value> line = Option(isolate, options, "lineOffset");
  if (!line->IsUndefined()) {
    if (!line->IsInt32()) ThrowTypeError("`lineOffset` must be an integer");
    out.line_offset = line.As<v8::Int32>()->Value();
  }
  Local<Value> column = Option(isolate, options, "columnOffset");
  if (!column->IsUndefined()) {
    if (!column->IsInt32()) ThrowTypeError("`columnOffset` must be an integer");
    out.column_offset = column.As<v8::Int32>()->Value();
  }
  return out;
}

v8::ScriptOrigin ScriptOriginOptions::ToOrigin(Isolate* isolate, bool is_module) const {
  return v8::ScriptOrigin(isolate, V8String(isolate, filename), line_offset, column_offset, false, -1, Local<Value>(),
                          false, false, is_module);
}

CachedDataOptions CachedDataOptions::Parse(Isolate* isolate, Local<Value> options) {
  CachedDataOptions out;
  Local<Value> cached = Option(isolate, options, "cachedData");
  if (!cached->IsUndefined()) {
    ClassHandle* handle = ClassHandle::Unwrap(isolate, cached);
    if (!handle || handle->id() != ClassId::ExternalCopy)
      ThrowTypeError("`cachedData` must be an ExternalCopy of an ArrayBuffer");
    out.cached_data = ExternalCopyValue(handle);
    if (!out.cached_data || !BackingStoreOf(*out.cached_data))
      ThrowTypeError("`cachedData` must be an ExternalCopy of an ArrayBuffer");
  }
  out.produce = OptionBool(isolate, options, "produceCachedData");
  return out;
}

void CachedDataResult::Apply(Isolate* isolate, Local<Context> context, Local<Object> target) const {
  if (has_rejected)
    (void)target->Set(context, V8Symbol(isolate, "cachedDataRejected"), v8::Boolean::New(isolate, rejected));
  if (produced)
    (void)target->Set(context, V8Symbol(isolate, "cachedData"), NewExternalCopy(isolate, context, produced));
}

CompileInput CompileInput::Parse(Isolate* isolate, Local<Value> code, Local<Value> options) {
  if (!code->IsString()) ThrowTypeError("`code` must be a string");
  CheckOptions(options, "options");
  CompileInput input;
  input.code = CopyPrimitive(isolate, code);
  input.origin = ScriptOriginOptions::Parse(isolate, options);
  input.cache = CachedDataOptions::Parse(isolate, options);
  return input;
}

Local<v8::UnboundScript> CompileScriptIn(IsolateEnvironment& env, const CompileInput& input, CachedDataResult* cache) {
  Isolate* isolate = env.isolate();
  return CompileWith(
      isolate, env.UtilityContext(), input, false, cache,
      [&](v8::ScriptCompiler::Source* source, v8::ScriptCompiler::CompileOptions options) {
        return v8::ScriptCompiler::CompileUnboundScript(isolate, source, options);
      },
      [](Local<v8::UnboundScript> script) { return script; });
}

Local<v8::Module> CompileModuleIn(IsolateEnvironment& env, const CompileInput& input, CachedDataResult* cache) {
  Isolate* isolate = env.isolate();
  return CompileWith(
      isolate, env.UtilityContext(), input, true, cache,
      [&](v8::ScriptCompiler::Source* source, v8::ScriptCompiler::CompileOptions options) {
        return v8::ScriptCompiler::CompileModule(isolate, source, options);
      },
      [](Local<v8::Module> module) { return module->GetUnboundModuleScript(); });
}

Local<v8::Script> CompileInContext(Isolate* isolate, Local<Context> context, const CompileInput& input) {
  return CompileWith(
      isolate, context, input, false, nullptr,
      [&](v8::ScriptCompiler::Source* source, v8::ScriptCompiler::CompileOptions options) {
        return v8::ScriptCompiler::Compile(context, source, options);
      },
      [](Local<v8::Script> script) { return script->GetUnboundScript(); });
}

}  // namespace islet
