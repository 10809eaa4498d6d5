// The ArrayBuffer allocator of every non-default isolate: counts the bytes it hands out, plus
// the memory outside the V8 heap islet charges to the isolate itself (external strings copied
// in, shared memory handed in), reported together as externally_allocated_size. It refuses an
// allocation that would take the isolate past its memory limit, which surfaces in JavaScript as
// a catchable RangeError and marks the isolate for disposal at the end of the run.
#pragma once

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <v8.h>

namespace islet {

class CountingAllocator : public v8::ArrayBuffer::Allocator {
 public:
  explicit CountingAllocator(size_t limit) : limit_(limit) {}

  void* Allocate(size_t length) override {
    if (!Reserve(length)) return nullptr;
    void* data = std::calloc(length ? length : 1, 1);
    if (!data) allocated_ -= length;
    return data;
  }
  void* AllocateUninitialized(size_t length) override {
    if (!Reserve(length)) return nullptr;
    void* data = std::malloc(length ? length : 1);
    if (!data) allocated_ -= length;
    return data;
  }
  void Free(void* data, size_t length) override {
    std::free(data);
    allocated_ -= length;
  }
  // Memory held elsewhere, charged to this isolate (false, and nothing charged, past the limit;
  // the caller decides whether that is the isolate's end: see MarkRefused). `tell_v8`: V8 is
  // told too, so that it collects the objects holding the memory when it grows; the isolate
  // must then be entered on this thread (as it is when V8 releases such objects).
  bool TryCharge(size_t length, bool tell_v8) {
    if (length > limit_) return false;
    size_t now = allocated_.fetch_add(length) + length;
    if (now > limit_) {
      allocated_ -= length;
      return false;
    }
    if (v8::Isolate* isolate = isolate_.load(); tell_v8 && isolate)
      isolate->AdjustAmountOfExternalAllocatedMemory(int64_t(length));
    return true;
  }
  void Uncharge(size_t length, bool tell_v8) {
    allocated_ -= length;
    if (v8::Isolate* isolate = isolate_.load(); tell_v8 && isolate)
      isolate->AdjustAmountOfExternalAllocatedMemory(-int64_t(length));
  }
  void MarkRefused() { refused_ = true; }
  // The isolate to tell about charges (null once it is being disposed).
  void SetIsolate(v8::Isolate* isolate) { isolate_ = isolate; }
  size_t allocated() const { return allocated_.load(); }
  bool refused() const { return refused_.load(); }

 private:
  bool Reserve(size_t length) {
    if (length > limit_) {
      refused_ = true;
      return false;
    }
    size_t now = allocated_.fetch_add(length) + length;
    if (now > limit_) {
      allocated_ -= length;
      refused_ = true;
      return false;
    }
    return true;
  }
  size_t limit_;
  std::atomic<size_t> allocated_{0};
  std::atomic<bool> refused_{false};
  std::atomic<v8::Isolate*> isolate_{nullptr};
};

}  // namespace islet
