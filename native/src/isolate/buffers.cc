// Copies of ArrayBuffers, SharedArrayBuffers and their views (typed arrays, DataView).
//
// What a copy may read is decided from the buffer, never from the view alone: a view over a
// resizable buffer may track its length, or have fallen outside a buffer that shrank, and the
// lengths V8 reports for such views are not a safe bound (copying by them once read past the
// buffer and handed the bytes of unrelated memory to tenant code). So a copy takes the buffer's
// backing memory, bounds it by the buffer's current length, copies that whole buffer (as the
// reference library does: the copied view keeps its offset), and clamps the view's offset and
// length inside it.
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "isolate/allocator.h"
#include "isolate/environment.h"
#include "isolate/transfer.h"

namespace islet {
namespace {

constexpr const char* kInvalidBuffer = "Array buffer is invalid";

std::shared_ptr<v8::BackingStore> OwnStore(size_t length) {
  void* data = std::malloc(length ? length : 1);
  if (!data) ThrowError(ErrorClass::RangeError, "Array buffer allocation failed");
  return v8::ArrayBuffer::NewBackingStore(
      data, length, [](void* ptr, size_t, void*) { std::free(ptr); }, nullptr);
}

enum class ViewKind {
  None,
  DataView,
  Int8,
  Uint8,
  Uint8Clamped,
  Int16,
  Uint16,
  Int32,
  Uint32,
  Float32,
  Float64,
  BigInt64,
  BigUint64
};

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

size_t ElementSize(ViewKind kind) {
  switch (kind) {
    case ViewKind::Int16:
    case ViewKind::Uint16:
      return 2;
    case ViewKind::Int32:
    case ViewKind::Uint32:
    case ViewKind::Float32:
      return 4;
    case ViewKind::Float64:
    case ViewKind::BigInt64:
    case ViewKind::BigUint64:
      return 8;
    default:
      return 1;
  }
}

// The bytes of `buffer` a copy may read: its current length, never more than its memory.
size_t SafeLength(size_t reported, const std::shared_ptr<v8::BackingStore>& store) {
  if (!store || !store->Data()) return 0;
  return std::min(reported, store->ByteLength());
}

// The view's place in a buffer of `buffer_length` readable bytes, clamped inside it.
struct ViewRange {
  size_t offset = 0;
  size_t length = 0;
};
ViewRange RangeOf(Local<v8::ArrayBufferView> view, ViewKind kind, size_t buffer_length) {
  ViewRange range;
  size_t element = ElementSize(kind);
  range.offset = view->ByteOffset();
  // A typed array's element count accounts for length tracking and for a buffer that shrank
  // under it; a DataView reports bytes.
  range.length = view->IsTypedArray() ? view.As<v8::TypedArray>()->Length() * element : view->ByteLength();
  if (range.offset > buffer_length) range.offset = buffer_length;
  range.length = std::min(range.length, buffer_length - range.offset);
  range.length -= range.length % element;
  range.offset -= range.offset % element;
  return range;
}

template <typename Buffer>
Local<Value> MakeView(ViewKind kind, Local<Buffer> buffer, size_t offset, size_t bytes) {
  switch (kind) {
    case ViewKind::None:
      return buffer;
    case ViewKind::DataView:
      return v8::DataView::New(buffer, offset, bytes);
    case ViewKind::Int8:
      return v8::Int8Array::New(buffer, offset, bytes);
    case ViewKind::Uint8:
      return v8::Uint8Array::New(buffer, offset, bytes);
    case ViewKind::Uint8Clamped:
      return v8::Uint8ClampedArray::New(buffer, offset, bytes);
    case ViewKind::Int16:
      return v8::Int16Array::New(buffer, offset, bytes / 2);
    case ViewKind::Uint16:
      return v8::Uint16Array::New(buffer, offset, bytes / 2);
    case ViewKind::Int32:
      return v8::Int32Array::New(buffer, offset, bytes / 4);
    case ViewKind::Uint32:
      return v8::Uint32Array::New(buffer, offset, bytes / 4);
    case ViewKind::Float32:
      return v8::Float32Array::New(buffer, offset, bytes / 4);
    case ViewKind::Float64:
      return v8::Float64Array::New(buffer, offset, bytes / 8);
    case ViewKind::BigInt64:
      return v8::BigInt64Array::New(buffer, offset, bytes / 8);
    case ViewKind::BigUint64:
      return v8::BigUint64Array::New(buffer, offset, bytes / 8);
  }
  return buffer;
}

// Keeps memory charged to an isolate until the object holding it there is collected.
struct ExternalCharge {
  v8::Global<Object> handle;
  std::shared_ptr<CountingAllocator> allocator;
  size_t bytes;
};

void ChargeUntilCollected(Isolate* isolate, Local<Object> object, size_t bytes) {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  if (!env || env->is_default() || !env->allocator() || bytes == 0) return;
  // V8 accounts for the buffer's memory itself: only the isolate's own count is charged.
  if (!env->ChargeExternal(bytes, false)) ThrowError(ErrorClass::RangeError, "Array buffer allocation failed");
  auto* charge = new ExternalCharge{v8::Global<Object>(isolate, object), env->allocator(), bytes};
  charge->handle.SetWeak(
      charge,
      [](const v8::WeakCallbackInfo<ExternalCharge>& info) {
        ExternalCharge* done = info.GetParameter();
        done->allocator->Uncharge(done->bytes, false);
        done->handle.Reset();
        delete done;
      },
      v8::WeakCallbackType::kParameter);
}

// A copied ArrayBuffer (with the view over it, if any), or a SharedArrayBuffer's memory.
class BufferCopy : public CopiedValue {
 public:
  BufferCopy(std::shared_ptr<v8::BackingStore> store, size_t buffer_length, ViewRange range, ViewKind view, bool shared)
      : store_(std::move(store)), buffer_length_(buffer_length), range_(range), view_(view), shared_(shared) {
    if (!shared_) Account(buffer_length_);
  }

  std::shared_ptr<v8::BackingStore> Store() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return view_ == ViewKind::None && !shared_ ? store_ : nullptr;
  }

  Local<Value> CopyIn(Isolate* isolate, Local<Context>, bool transfer_in) override {
    if (shared_) {
      Local<v8::SharedArrayBuffer> buffer = v8::SharedArrayBuffer::New(isolate, store_);
      ChargeUntilCollected(isolate, buffer, buffer_length_);
      return MakeView(view_, buffer, range_.offset, range_.length);
    }
    std::shared_ptr<v8::BackingStore> source;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!store_) ThrowError(ErrorClass::Error, kInvalidBuffer);
      source = transfer_in ? std::move(store_) : store_;
      if (transfer_in) store_.reset();
    }
    if (transfer_in) {
      // The memory moves in as it is (O(1)), charged to the isolate while it lives there.
      Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, source);
      try {
        ChargeUntilCollected(isolate, buffer, buffer_length_);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        store_ = buffer->GetBackingStore();
        Check(buffer->Detach(Local<Value>()));
        throw;
      }
      return MakeView(view_, buffer, range_.offset, range_.length);
    }
    std::shared_ptr<v8::BackingStore> fresh = AllocateStore(isolate, buffer_length_);
    if (buffer_length_) std::memcpy(fresh->Data(), source->Data(), std::min(buffer_length_, source->ByteLength()));
    return MakeView(view_, v8::ArrayBuffer::New(isolate, fresh), range_.offset, range_.length);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<v8::BackingStore> store_;  // null once transferred in
  size_t buffer_length_;
  ViewRange range_;
  ViewKind view_;
  bool shared_;
};

bool InList(const std::vector<Local<Value>>& list, Local<Value> value) {
  for (auto& item : list)
    if (item->StrictEquals(value)) return true;
  return false;
}

// A copy of `buffer`'s readable bytes (or its memory itself, moved out, when `move`).
std::shared_ptr<v8::BackingStore> CopyOrTake(Local<v8::ArrayBuffer> buffer, bool move, size_t* length) {
  if (buffer->WasDetached()) ThrowError(ErrorClass::TypeError, kInvalidBuffer);
  std::shared_ptr<v8::BackingStore> store = buffer->GetBackingStore();
  *length = SafeLength(buffer->ByteLength(), store);
  if (move) {
    TakeBuffer(buffer);
    return store;
  }
  std::shared_ptr<v8::BackingStore> copy = OwnStore(*length);
  if (*length) std::memcpy(copy->Data(), store->Data(), *length);
  return copy;
}

}  // namespace

std::shared_ptr<v8::BackingStore> TakeBuffer(Local<v8::ArrayBuffer> buffer) {
  if (!buffer->IsDetachable() || buffer->WasDetached()) ThrowError(ErrorClass::TypeError, kInvalidBuffer);
  std::shared_ptr<v8::BackingStore> store = buffer->GetBackingStore();
  Check(buffer->Detach(Local<Value>()));
  return store;
}

void ChargeShared(Isolate* isolate, Local<v8::SharedArrayBuffer> buffer, size_t bytes) {
  ChargeUntilCollected(isolate, buffer, bytes);
}

std::shared_ptr<v8::BackingStore> AllocateStore(Isolate* isolate, size_t length) {
  IsolateEnvironment* env = IsolateEnvironment::Current();
  if (!env || env->is_default() || !env->allocator()) return OwnStore(length);
  // Charged to the isolate's limit like its own ArrayBuffers (V8 accounts for the buffer itself,
  // and may free it on another thread: only the allocator's count is touched then).
  if (!env->ChargeExternal(length, false)) ThrowError(ErrorClass::RangeError, "Array buffer allocation failed");
  void* data = std::calloc(length ? length : 1, 1);
  if (!data) {
    env->allocator()->Uncharge(length, false);
    ThrowError(ErrorClass::RangeError, "Array buffer allocation failed");
  }
  auto* allocator = new std::shared_ptr<CountingAllocator>(env->allocator());
  return v8::ArrayBuffer::NewBackingStore(
      data, length,
      [](void* ptr, size_t size, void* raw) {
        auto* owner = static_cast<std::shared_ptr<CountingAllocator>*>(raw);
        std::free(ptr);
        (*owner)->Uncharge(size, false);
        delete owner;
      },
      allocator);
}

std::shared_ptr<v8::BackingStore> BackingStoreOf(const CopiedValue& copy) { return copy.Store(); }

CopiedValuePtr CopyBytes(const uint8_t* data, size_t length) {
  std::shared_ptr<v8::BackingStore> store = OwnStore(length);
  if (length) std::memcpy(store->Data(), data, length);
  return std::make_shared<BufferCopy>(store, length, ViewRange{0, length}, ViewKind::None, false);
}

CopiedValuePtr CopyBuffer(Isolate* isolate, Local<Value> value, const CopyOptions& options) {
  if (value->IsArrayBuffer()) {
    bool move = options.transfer_out || InList(options.transfer_list, value);
    size_t length = 0;
    std::shared_ptr<v8::BackingStore> store = CopyOrTake(value.As<v8::ArrayBuffer>(), move, &length);
    return std::make_shared<BufferCopy>(std::move(store), length, ViewRange{0, length}, ViewKind::None, false);
  }
  if (value->IsSharedArrayBuffer()) {
    Local<v8::SharedArrayBuffer> buffer = value.As<v8::SharedArrayBuffer>();
    std::shared_ptr<v8::BackingStore> store = buffer->GetBackingStore();
    size_t length = SafeLength(buffer->ByteLength(), store);
    return std::make_shared<BufferCopy>(std::move(store), length, ViewRange{0, length}, ViewKind::None, true);
  }
  if (!value->IsArrayBufferView()) return nullptr;
  Local<v8::ArrayBufferView> view = value.As<v8::ArrayBufferView>();
  ViewKind kind = KindOf(view);
  Local<Object> backing = view->Buffer();  // also moves a small on-heap typed array's bytes off the heap
  if (backing->IsSharedArrayBuffer()) {
    Local<v8::SharedArrayBuffer> buffer = backing.As<v8::SharedArrayBuffer>();
    std::shared_ptr<v8::BackingStore> store = buffer->GetBackingStore();
    size_t length = SafeLength(buffer->ByteLength(), store);
    return std::make_shared<BufferCopy>(std::move(store), length, RangeOf(view, kind, length), kind, true);
  }
  Local<v8::ArrayBuffer> buffer = backing.As<v8::ArrayBuffer>();
  if (buffer->WasDetached()) ThrowError(ErrorClass::TypeError, kInvalidBuffer);
  size_t readable = SafeLength(buffer->ByteLength(), buffer->GetBackingStore());
  ViewRange range = RangeOf(view, kind, readable);  // before a move detaches the buffer
  bool move = options.transfer_out || InList(options.transfer_list, buffer);
  size_t length = 0;
  std::shared_ptr<v8::BackingStore> store = CopyOrTake(buffer, move, &length);
  range.offset = std::min(range.offset, length);
  range.length = std::min(range.length, length - range.offset);
  range.length -= range.length % ElementSize(kind);
  return std::make_shared<BufferCopy>(std::move(store), length, range, kind, false);
}

}  // namespace islet
