// The ArrayBuffer allocator of every non-default isolate: counts the bytes it hands out
// (reported as externally_allocated_size) and refuses an allocation that would take the
// isolate past its memory limit, which surfaces in JavaScript as a catchable RangeError and
// marks the isolate for disposal at the end of the run.
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
  size_t allocated() const { return allocated_.load(); }
  bool refused() const { return refused_.load(); }

 private:
  bool Reserve(size_t length) {
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
};

}  // namespace islet
