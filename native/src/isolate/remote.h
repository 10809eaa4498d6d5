// RemoteHandle<T>: a persistent handle to a value of one isolate, holdable from any thread.
// It keeps the isolate's environment alive, counts in `referenceCount`, and is released
// correctly whoever drops it last: at once on the isolate's own thread, otherwise queued until
// the isolate is next entered, or simply freed when the isolate is already gone.
#pragma once

#include "isolate/environment.h"

namespace islet {

template <typename T>
class RemoteHandle {
 public:
  // `counted`: this handle is the value of a Reference (counted in isolate.referenceCount).
  RemoteHandle(EnvPtr env, Local<T> value, bool counted = false)
      : env_(std::move(env)), handle_(new v8::Persistent<T>(env_->isolate(), value)), counted_(counted) {
    if (counted_) env_->AddHandle();
  }
  ~RemoteHandle() { env_->ReleaseHandle(handle_, &ResetAndDelete, &Delete, counted_); }
  RemoteHandle(const RemoteHandle&) = delete;
  RemoteHandle& operator=(const RemoteHandle&) = delete;

  // Only with the owning isolate entered on this thread.
  Local<T> Deref() const { return Local<T>::New(env_->isolate(), *handle_); }
  const EnvPtr& env() const { return env_; }

 private:
  static void ResetAndDelete(void* raw) {
    auto* handle = static_cast<v8::Persistent<T>*>(raw);
    handle->Reset();
    delete handle;
  }
  static void Delete(void* raw) { delete static_cast<v8::Persistent<T>*>(raw); }

  EnvPtr env_;
  v8::Persistent<T>* handle_;
  bool counted_;
};

template <typename T>
using RemotePtr = std::shared_ptr<RemoteHandle<T>>;

template <typename T>
RemotePtr<T> MakeRemote(const EnvPtr& env, Local<T> value, bool counted = false) {
  return std::make_shared<RemoteHandle<T>>(env, value, counted);
}

}  // namespace islet
