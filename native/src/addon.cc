// Placeholder module entry: replaced by the isolate addon.
#include <node.h>
#include <napi.h>

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("nodeModuleVersion", Napi::Number::New(env, NODE_MODULE_VERSION));
  return exports;
}
NODE_API_MODULE(islet, Init)
