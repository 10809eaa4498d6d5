// mapSharedFile(path, byteLength): an ArrayBuffer over a file mapped MAP_SHARED, so that what a
// process writes into it is in the file at once, with no system call per write, and is still
// there when the process dies. Another process reads it with plain file reads (the page cache is
// the mapping). islet's worker processes keep a small journal of their in-flight requests this
// way for their supervisor to read after a crash; the addon knows nothing of that use.
//
// The file must exist and be at least `byteLength` long (the caller creates and sizes it: a
// mapping past the end of a file faults on access). The mapping lives as long as the
// ArrayBuffer's backing store; the descriptor is closed at once.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "isolate/common.h"

namespace islet {
namespace {

constexpr double kMaxBytes = 1 << 30;

void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  if (data && length > 0) munmap(data, length);
}

std::string Errno(const std::string& what, const std::string& path) {
  return "mapSharedFile: cannot " + what + " '" + path + "': " + std::strerror(errno);
}

void MapSharedFile(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    if (info.Length() < 2 || !info[0]->IsString() || !info[1]->IsNumber())
      ThrowTypeError("mapSharedFile(path, byteLength): expected a path string and a byte length");
    std::string path = ToUtf8(isolate, info[0]);
    double requested = info[1].As<v8::Number>()->Value();
    if (!(requested >= 1 && requested <= kMaxBytes) || requested != static_cast<double>(static_cast<size_t>(requested)))
      ThrowError(ErrorClass::RangeError, "mapSharedFile: byteLength must be an integer from 1 to 2^30");
    size_t length = static_cast<size_t>(requested);
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) ThrowError(ErrorClass::Error, Errno("open", path));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      std::string message = Errno("stat", path);
      close(fd);
      ThrowError(ErrorClass::Error, message);
    }
    if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) < length) {
      close(fd);
      ThrowError(ErrorClass::RangeError, "mapSharedFile: '" + path + "' is not a regular file of at least " +
                                             std::to_string(length) + " bytes");
    }
    void* data = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    std::string message = data == MAP_FAILED ? Errno("map", path) : "";
    close(fd);
    if (data == MAP_FAILED) ThrowError(ErrorClass::Error, message);
    std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(data, length, Unmap, nullptr);
    info.GetReturnValue().Set(v8::ArrayBuffer::New(isolate, std::move(store)));
  });
}

}  // namespace

void ExportSharedFile(Isolate* isolate, Local<Context> context, Local<Object> exports) {
  Local<Function> fn = v8::Function::New(context, MapSharedFile).ToLocalChecked();
  exports->Set(context, V8Symbol(isolate, "mapSharedFile"), fn).Check();
}

}  // namespace islet
