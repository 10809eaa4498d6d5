// Value transfer: how a value leaves one isolate and appears in another.
//
// A `Transferable` is isolate-free data (or a handle's shared state) that can be materialised
// in whichever isolate is current. TransferOut() applies the TransferOptions rules of the
// isolate API; CopyValue() implements the ExternalCopy rules (primitives, Date, compact
// ArrayBuffer copies, shared SharedArrayBuffers, structured clone for the rest).
//
// Memory rules: a copy never reads past the memory the source value owns (a view is read
// within its buffer's current length, whatever V8 reports for the view); memory materialised
// in a non-default isolate is charged to that isolate's limit (ArrayBuffers through its
// allocator; large strings and shared memory as external memory).
#pragma once

#include <atomic>
#include <vector>

#include "isolate/common.h"

namespace islet {

class Transferable {
 public:
  virtual ~Transferable() = default;
  // Materialises the value in the current isolate; `context` is entered.
  virtual Local<Value> TransferIn(Isolate* isolate, Local<Context> context) = 0;
};
using TransferablePtr = std::shared_ptr<Transferable>;

struct TransferOptions {
  enum class Kind { Default, Copy, ExternalCopy, Reference };
  Kind kind = Kind::Default;
  bool promise = false;
  // References made for non-transferable values follow the prototype chain (set when the value
  // was read through an `unsafeInherit` Reference).
  bool inherit = false;
  static TransferOptions Parse(Isolate* isolate, Local<Value> options);
};

// What TransferOut does with a value that is not transferable and no option says how to move it.
enum class Fallback { Throw, Undefined, Reference };

// `functions` controls whether plain functions become Callbacks (arguments) or follow `fallback`.
TransferablePtr TransferOut(Isolate* isolate, Local<Context> context, Local<Value> value,
                            const TransferOptions& options, Fallback fallback, bool functions = false);

// An isolate-free copy of a value, following ExternalCopy's rules.
class CopiedValue : public Transferable {
 public:
  ~CopiedValue() override;
  // Bytes held outside every isolate (counted by ExternalCopy.totalExternalSize).
  size_t Size() const { return size_; }
  // transfer_in: move ArrayBuffer memory into the isolate instead of copying it (one use only).
  virtual Local<Value> CopyIn(Isolate* isolate, Local<Context> context, bool transfer_in) = 0;
  Local<Value> TransferIn(Isolate* isolate, Local<Context> context) override {
    return CopyIn(isolate, context, one_shot);
  }
  static size_t TotalSize() { return total_size_.load(); }
  virtual std::shared_ptr<v8::BackingStore> Store() const { return nullptr; }
  // A copy made for one crossing (call arguments/results) moves its memory in instead of copying.
  bool one_shot = false;

 protected:
  void Account(size_t size);

 private:
  size_t size_ = 0;
  static std::atomic<size_t> total_size_;
};
using CopiedValuePtr = std::shared_ptr<CopiedValue>;

struct CopyOptions {
  std::vector<Local<Value>> transfer_list;  // ArrayBuffers whose memory moves instead of being copied
  bool transfer_out = false;                // move the top-level ArrayBuffer (or view's buffer)
};

// Throws a DataCloneError-like TypeError when the value cannot be copied (functions, symbols...).
CopiedValuePtr CopyValue(Isolate* isolate, Local<Context> context, Local<Value> value, const CopyOptions& options = {});

// Primitive (not Symbol) values only; nullptr otherwise.
CopiedValuePtr CopyPrimitive(Isolate* isolate, Local<Value> value);

// A copy of raw bytes as an ArrayBuffer (cached data, snapshots).
CopiedValuePtr CopyBytes(const uint8_t* data, size_t length);
// The memory of a plain ArrayBuffer copy, or nullptr when `copy` holds something else.
std::shared_ptr<v8::BackingStore> BackingStoreOf(const CopiedValue& copy);

// Memory for a new ArrayBuffer charged to the current isolate's limit; RangeError when refused.
std::shared_ptr<v8::BackingStore> AllocateStore(Isolate* isolate, size_t length);

// Copies an exception for rethrowing elsewhere; errors keep class, message and stack; an
// object that is not an error becomes an Error saying so.
TransferablePtr CopyThrown(Isolate* isolate, Local<Context> context, Local<Value> exception);

// --- internal to isolate/ (buffers.cc, serialized.cc) ---
// ArrayBuffers, SharedArrayBuffers and views; nullptr for other values.
CopiedValuePtr CopyBuffer(Isolate* isolate, Local<Value> value, const CopyOptions& options);
// The structured clone of anything else.
CopiedValuePtr CopySerialized(Isolate* isolate, Local<Context> context, Local<Value> value, const CopyOptions& options);
// Moves an ArrayBuffer's memory out of it (it is detached); TypeError when it cannot be.
std::shared_ptr<v8::BackingStore> TakeBuffer(Local<v8::ArrayBuffer> buffer);
// Charges shared memory handed to the current isolate until `buffer` is collected.
void ChargeShared(Isolate* isolate, Local<v8::SharedArrayBuffer> buffer, size_t bytes);

}  // namespace islet
