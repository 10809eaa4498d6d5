// The structured clone (V8's ValueSerializer) of values that are neither primitives nor
// buffers: islet handles inside the value travel as themselves, SharedArrayBuffers stay shared,
// ArrayBuffers in the transfer list move (once: a copy made with `transferIn` takes them, and
// the copy is invalid afterwards).
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "isolate/transfer.h"
#include "module/handles.h"

namespace islet {
namespace {

class SerializedCopy : public CopiedValue {
 public:
  uint8_t* data = nullptr;
  size_t size = 0;
  std::vector<std::shared_ptr<v8::BackingStore>> shared;
  std::vector<std::shared_ptr<v8::BackingStore>> transferred;
  std::vector<TransferablePtr> host_objects;

  ~SerializedCopy() override { std::free(data); }
  void Finalize() {
    size_t total = size;
    for (auto& store : transferred) total += store->ByteLength();
    Account(total);
  }

  Local<Value> CopyIn(Isolate* isolate, Local<Context> context, bool transfer_in) override;

 private:
  std::mutex mutex_;
  bool moved_ = false;  // the transferred buffers went into an isolate
};

class Serializer : public v8::ValueSerializer::Delegate {
 public:
  Serializer(Isolate* isolate, SerializedCopy& out) : isolate_(isolate), out_(out), serializer_(isolate, this) {}
  v8::ValueSerializer& serializer() { return serializer_; }

  void ThrowDataCloneError(Local<String> message) override {
    isolate_->ThrowException(v8::Exception::TypeError(message));
  }
  v8::Maybe<bool> WriteHostObject(Isolate* isolate, Local<Object> object) override {
    ClassHandle* handle = ClassHandle::Unwrap(isolate, object);
    if (!handle) {
      ThrowDataCloneError(V8String(isolate, "#<Object> could not be cloned."));
      return v8::Nothing<bool>();
    }
    try {
      out_.host_objects.push_back(handle->TransferOut());
    } catch (const ThrownValue& thrown) {
      ThrowInto(isolate, thrown);
      return v8::Nothing<bool>();
    }
    serializer_.WriteUint32(uint32_t(out_.host_objects.size() - 1));
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
  Deserializer(Isolate* isolate, SerializedCopy& in) : in_(in), deserializer_(isolate, in.data, in.size, this) {}
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
      isolate->ThrowException(
          v8::Exception::TypeError(V8String(isolate, "A transferred handle did not produce an object")));
    } catch (const JsPending&) {
    } catch (const ThrownValue& thrown) {
      ThrowInto(isolate, thrown);
    }
    return {};
  }
  MaybeLocal<v8::SharedArrayBuffer> GetSharedArrayBufferFromId(Isolate* isolate, uint32_t id) override {
    if (id >= in_.shared.size()) return {};
    Local<v8::SharedArrayBuffer> buffer = v8::SharedArrayBuffer::New(isolate, in_.shared[id]);
    try {
      ChargeShared(isolate, buffer, in_.shared[id]->ByteLength());
    } catch (const ThrownValue& thrown) {
      ThrowInto(isolate, thrown);
      return {};
    }
    return buffer;
  }

 private:
  SerializedCopy& in_;
  v8::ValueDeserializer deserializer_;
};

Local<Value> SerializedCopy::CopyIn(Isolate* isolate, Local<Context> context, bool transfer_in) {
  std::vector<std::shared_ptr<v8::BackingStore>> stores;
  bool move;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (moved_) ThrowError(ErrorClass::Error, "Array buffer is invalid");
    move = transfer_in && !transferred.empty();
    stores = transferred;
    if (move) {
      moved_ = true;
      transferred.clear();
    }
  }
  Deserializer delegate(isolate, *this);
  v8::ValueDeserializer& deserializer = delegate.deserializer();
  if (!Check(deserializer.ReadHeader(context))) ThrowTypeError("Corrupt copy");
  for (size_t i = 0; i < stores.size(); ++i) {
    std::shared_ptr<v8::BackingStore> store = stores[i];
    if (!move) {
      // Without transferIn every copy gets its own bytes; the moved memory stays here.
      std::shared_ptr<v8::BackingStore> fresh = AllocateStore(isolate, store->ByteLength());
      if (store->ByteLength()) std::memcpy(fresh->Data(), store->Data(), store->ByteLength());
      store = fresh;
    }
    deserializer.TransferArrayBuffer(uint32_t(i), v8::ArrayBuffer::New(isolate, store));
  }
  return Check(deserializer.ReadValue(context));
}

}  // namespace

CopiedValuePtr CopySerialized(Isolate* isolate, Local<Context> context, Local<Value> value,
                              const CopyOptions& options) {
  auto copy = std::make_shared<SerializedCopy>();
  Serializer delegate(isolate, *copy);
  v8::ValueSerializer& serializer = delegate.serializer();
  std::vector<Local<v8::ArrayBuffer>> moving;
  for (auto& item : options.transfer_list) {
    if (!item->IsArrayBuffer()) continue;
    if (item.As<v8::ArrayBuffer>()->WasDetached()) ThrowError(ErrorClass::TypeError, "Array buffer is invalid");
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

}  // namespace islet
