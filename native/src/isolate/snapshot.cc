// Making startup snapshots and checking them before V8 reads them (see snapshot.h).
#include "isolate/snapshot.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>

#include <vector>

#include "isolate/async_context.h"
#include "isolate/promise_rejections.h"
#include "isolate/snapshot_cache.h"

// V8 keeps its own startup snapshot (the one every plain isolate boots from) behind an internal
// function that Node's binary exports. A snapshot must be built on top of it: an isolate made
// from nothing lays out its read-only objects its own way, but isolates made from the blob share
// the process's read-only heap, so names in such a blob would point at the wrong strings.
#if V8_MAJOR_VERSION == 11 && V8_MINOR_VERSION == 3
namespace v8::internal {
class Snapshot {
 public:
  static const v8::StartupData* DefaultSnapshotBlob();
};
}  // namespace v8::internal
#define ISLET_HAS_DEFAULT_BLOB 1
#endif

namespace islet {
namespace {

// --- islet's container -----------------------------------------------------------------------
//   0  char[8]  magic "ISLETSNP"
//   8  u32      container format (kFormat)
//  12  u32      NODE_MODULE_VERSION of the addon that wrote it
//  16  char[48] V8 version string (v8::V8::GetVersion(), with Node's embedder suffix)
//  64  u64      build configuration bits (pointer size, pointer compression, sandbox, Smi size)
//  72  u64      1 when the writing process ran with --no-node-snapshot: the read-only heap (and
//               its object cache, see snapshot_cache.h) of a Node process comes from V8's own
//               snapshot with that flag and from Node's without; a blob only fits one of them
//  80  u64      length of the V8 blob
//  88  u64      checksum of the V8 blob
//  96  ...      the V8 blob
constexpr char kMagic[8] = {'I', 'S', 'L', 'E', 'T', 'S', 'N', 'P'};
constexpr uint32_t kFormat = 1;
constexpr size_t kVersionLength = 48;
constexpr size_t kHeaderSize = 96;

uint64_t BuildConfiguration() {
  uint64_t bits = sizeof(void*);
#ifdef V8_COMPRESS_POINTERS
  bits |= 1u << 8;
#endif
#ifdef V8_ENABLE_SANDBOX
  bits |= 1u << 9;
#endif
#ifdef V8_31BIT_SMIS_ON_64BIT_ARCH
  bits |= 1u << 10;
#endif
  return bits;
}

// Whether this process runs with --no-node-snapshot (on the command line or in NODE_OPTIONS).
uint64_t NodeSnapshotDisabled() {
  static const uint64_t disabled = [] {
    auto has_flag = [](const std::string& text, char separator) {
      size_t start = 0;
      while (start <= text.size()) {
        size_t end = text.find(separator, start);
        if (end == std::string::npos) end = text.size();
        if (text.compare(start, end - start, "--no-node-snapshot") == 0) return true;
        start = end + 1;
      }
      return false;
    };
    std::string cmdline;
    if (FILE* file = std::fopen("/proc/self/cmdline", "rb")) {
      char buffer[4096];
      size_t read;
      while ((read = std::fread(buffer, 1, sizeof(buffer), file)) > 0) cmdline.append(buffer, read);
      std::fclose(file);
    }
    const char* options = std::getenv("NODE_OPTIONS");
    return uint64_t(has_flag(cmdline, '\0') || (options && has_flag(options, ' ')));
  }();
  return disabled;
}

// Detects damaged or truncated bytes (not an adversary: cached data and snapshots are trusted
// input, like machine code). Word-at-a-time multiply-xorshift: ~0.3 ms per MB.
uint64_t Checksum(const uint8_t* data, size_t length) {
  uint64_t hash = 0x9E3779B97F4A7C15ull ^ length;
  size_t i = 0;
  for (; i + 8 <= length; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    hash = (hash ^ word) * 0xFF51AFD7ED558CCDull;
    hash ^= hash >> 29;
  }
  for (; i < length; ++i) hash = (hash ^ data[i]) * 0xC4CEB9FE1A85EC53ull;
  return hash ^ (hash >> 32);
}

template <typename T>
void Put(std::vector<uint8_t>& out, size_t offset, T value) {
  std::memcpy(out.data() + offset, &value, sizeof(T));
}
template <typename T>
T Get(const uint8_t* data, size_t offset) {
  T value;
  std::memcpy(&value, data + offset, sizeof(T));
  return value;
}

std::vector<uint8_t> Wrap(const char* blob, size_t length) {
  std::vector<uint8_t> out(kHeaderSize + length, 0);
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  Put<uint32_t>(out, 8, kFormat);
  Put<uint32_t>(out, 12, NODE_MODULE_VERSION);
  std::strncpy(reinterpret_cast<char*>(out.data() + 16), v8::V8::GetVersion(), kVersionLength - 1);
  Put<uint64_t>(out, 64, BuildConfiguration());
  Put<uint64_t>(out, 72, NodeSnapshotDisabled());
  Put<uint64_t>(out, 80, length);
  std::memcpy(out.data() + kHeaderSize, blob, length);
  Put<uint64_t>(out, 88, Checksum(out.data() + kHeaderSize, length));
  return out;
}

[[noreturn]] void Refuse(const std::string& why, const char* code = "ERR_ISOLATE_SNAPSHOT") {
  ThrowError(ErrorClass::Error, "Invalid snapshot: " + why, code);
}

// --- the isolate a snapshot is made in --------------------------------------------------------

// V8 posts foreground tasks for every isolate (GC follow-ups); the creator runs the ready ones
// between scripts and drops the rest with the isolate.
class CreatorTasks : public v8::TaskRunner {
 public:
  void PostTask(std::unique_ptr<v8::Task> task) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.push_back(std::move(task));
  }
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override { PostTask(std::move(task)); }
  void PostDelayedTask(std::unique_ptr<v8::Task> task, double) override {
    std::lock_guard<std::mutex> lock(mutex_);
    delayed_.push_back(std::move(task));
  }
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task, double delay) override {
    PostDelayedTask(std::move(task), delay);
  }
  void PostIdleTask(std::unique_ptr<v8::IdleTask>) override {}
  bool IdleTasksEnabled() override { return false; }
  bool NonNestableTasksEnabled() const override { return true; }
  bool NonNestableDelayedTasksEnabled() const override { return true; }
  void RunReady() {
    for (;;) {
      std::deque<std::unique_ptr<v8::Task>> ready;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready.swap(ready_);
      }
      if (ready.empty()) return;
      for (auto& task : ready) task->Run();
    }
  }

 private:
  std::mutex mutex_;
  std::deque<std::unique_ptr<v8::Task>> ready_;
  std::deque<std::unique_ptr<v8::Task>> delayed_;
};

class CreatorDelegate : public node::IsolatePlatformDelegate {
 public:
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner() override { return tasks; }
  bool IdleTasksEnabled() override { return false; }
  std::shared_ptr<CreatorTasks> tasks = std::make_shared<CreatorTasks>();
};

// `compiling`: the script did not compile (its message then names the place, as compile errors
// of compileScript do: " [file:line:column]").
ErrorData DescribeError(Isolate* isolate, Local<Context> context, v8::TryCatch& try_catch, const SnapshotSource& source,
                        bool compiling) {
  ErrorData data;
  if (try_catch.HasTerminated() || !try_catch.HasCaught()) {
    data.message = "createSnapshot: the script " + source.filename + " was terminated";
    return data;
  }
  Local<Value> exception = try_catch.Exception();
  data.message = ToUtf8(isolate, exception);
  std::string shown_name = "Error";
  if (exception->IsNativeError()) {
    Local<Object> error = exception.As<Object>();
    auto read = [&](const char* name) {
      Local<Value> value;
      return error->Get(context, V8Symbol(isolate, name)).ToLocal(&value) && value->IsString() ? ToUtf8(isolate, value)
                                                                                               : std::string();
    };
    std::string name = read("name");
    if (!name.empty()) shown_name = name;
    data.message = read("message");
    // V8 records no stack traces while it prepares a snapshot: usually empty.
    data.stack = read("stack");
    if (name == "TypeError")
      data.cls = ErrorClass::TypeError;
    else if (name == "RangeError")
      data.cls = ErrorClass::RangeError;
    else if (name == "SyntaxError")
      data.cls = ErrorClass::SyntaxError;
    else if (name == "ReferenceError")
      data.cls = ErrorClass::ReferenceError;
    else if (name == "EvalError")
      data.cls = ErrorClass::EvalError;
    else if (name == "URIError")
      data.cls = ErrorClass::URIError;
    else if (name != "Error" && !name.empty())
      data.name = name;
  }
  // A SyntaxError's stack does not say where: add the script's position.
  Local<v8::Message> message = try_catch.Message();
  if (compiling && !message.IsEmpty()) {
    data.message += " [" + source.filename + ":" + std::to_string(message->GetLineNumber(context).FromMaybe(0)) + ":" +
                    std::to_string(message->GetStartColumn(context).FromMaybe(0) + 1) + "]";
  }
  if (!message.IsEmpty() && data.stack.find(source.filename) == std::string::npos) {
    std::string where = "    at " + source.filename + ":" +
                        std::to_string(message->GetLineNumber(context).FromMaybe(0)) + ":" +
                        std::to_string(message->GetStartColumn(context).FromMaybe(0) + 1);
    std::string head = data.stack.empty() ? shown_name + ": " + data.message : data.stack;
    data.stack = head + "\n" + where;
  }
  return data;
}

// Runs one script in `context`; the error of a throwing script is returned.
std::optional<ErrorData> RunSource(Isolate* isolate, Local<Context> context, const SnapshotSource& source) {
  v8::TryCatch try_catch(isolate);
  v8::ScriptOrigin origin(isolate, V8String(isolate, source.filename), source.line_offset, source.column_offset);
  v8::ScriptCompiler::Source compiled_source(V8String(isolate, source.code), origin);
  Local<v8::Script> script;
  Local<Value> result;
  if (!v8::ScriptCompiler::Compile(context, &compiled_source).ToLocal(&script)) {
    return DescribeError(isolate, context, try_catch, source, true);
  }
  if (!script->Run(context).ToLocal(&result)) return DescribeError(isolate, context, try_catch, source, false);
  isolate->PerformMicrotaskCheckpoint();
  return std::nullopt;
}

// One SnapshotCreator pass: `from` (may be null) is the blob to start from; `run` fills the
// default context. Returns the blob (caller frees `data`) or throws the script's error.
template <typename Fill>
v8::StartupData CreateBlob(node::MultiIsolatePlatform* platform, const v8::StartupData* from, Fill fill) {
  CreatorDelegate delegate;
  Isolate* isolate = Isolate::Allocate();
  platform->RegisterIsolate(isolate, &delegate);
  std::optional<ErrorData> failed;
  v8::StartupData blob{nullptr, 0};
  {
    v8::SnapshotCreator creator(isolate, SnapshotExternalReferences(), from);
    {
      // Node 20 unregisters before disposing (the creator disposes when it is destroyed).
      struct Unregister {
        node::MultiIsolatePlatform* platform;
        Isolate* isolate;
        ~Unregister() { platform->UnregisterIsolate(isolate); }
      } unregister{platform, isolate};
      v8::Locker locker(isolate);
      {
        HandleScope handles(isolate);
        failed = fill(isolate, creator);
        delegate.tasks->RunReady();
      }
      if (!failed) {
        ReadOnlyCacheScope same_cache;
        if (!same_cache.active()) {
          failed =
              ErrorData{ErrorClass::Error,
                        "",
                        "createSnapshot: this Node binary does not let islet make a snapshot its isolates can read "
                        "back (V8's serializer flags could not be changed; see native/src/isolate/snapshot_cache.h)",
                        "",
                        "ERR_ISOLATE_SNAPSHOT",
                        ""};
        } else {
          blob = creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kKeep);
        }
      }
    }
  }
  if (failed) ThrowErrorData(std::move(*failed));
  if (blob.data == nullptr || blob.raw_size <= 0)
    ThrowError(ErrorClass::Error, "createSnapshot: V8 could not serialise the heap", "ERR_ISOLATE_SNAPSHOT");
  return blob;
}

}  // namespace

const intptr_t* SnapshotExternalReferences() {
  // every feature's functions, one null-terminated table, built once
  static const std::vector<intptr_t> table = [] {
    std::vector<intptr_t> out;
    for (const intptr_t* refs : {AsyncContextExternalReferences(), PromiseRejectionsExternalReferences()}) {
      for (; *refs != 0; ++refs) out.push_back(*refs);
    }
    out.push_back(0);
    return out;
  }();
  return table.data();
}

std::vector<uint8_t> MakeSnapshot(node::MultiIsolatePlatform* platform, const std::vector<SnapshotSource>& scripts,
                                  const SnapshotSource* warmup) {
#ifdef ISLET_HAS_DEFAULT_BLOB
  const v8::StartupData* base = v8::internal::Snapshot::DefaultSnapshotBlob();
#else
  const v8::StartupData* base = nullptr;
  ThrowError(ErrorClass::Error,
             std::string("createSnapshot is not available in islet's addon for V8 ") + v8::V8::GetVersion(),
             "ERR_ISOLATE_SNAPSHOT");
#endif
  v8::StartupData cold =
      CreateBlob(platform, base, [&](Isolate* isolate, v8::SnapshotCreator& creator) -> std::optional<ErrorData> {
        Local<Context> context = Context::New(isolate);
        Context::Scope scope(context);
        for (const SnapshotSource& source : scripts) {
          if (auto error = RunSource(isolate, context, source)) return error;
        }
        creator.SetDefaultContext(context);
        return std::nullopt;
      });
  std::unique_ptr<const char[]> cold_owner(cold.data);
  if (!warmup) return Wrap(cold.data, size_t(cold.raw_size));
  // V8's recipe for a warm snapshot: run the warm-up in a throwaway context (its side effects
  // are dropped), then snapshot a fresh copy of the default context.
  v8::StartupData warm =
      CreateBlob(platform, &cold, [&](Isolate* isolate, v8::SnapshotCreator& creator) -> std::optional<ErrorData> {
        {
          HandleScope handles(isolate);
          Local<Context> scratch = Context::New(isolate);
          Context::Scope scope(scratch);
          if (auto error = RunSource(isolate, scratch, *warmup)) return error;
        }
        isolate->ContextDisposedNotification(false);
        creator.SetDefaultContext(Context::New(isolate));
        return std::nullopt;
      });
  std::unique_ptr<const char[]> warm_owner(warm.data);
  return Wrap(warm.data, size_t(warm.raw_size));
}

namespace {

std::shared_ptr<const v8::StartupData> Open(const uint8_t* data, size_t length) {
  if (length < kHeaderSize || std::memcmp(data, kMagic, sizeof(kMagic)) != 0) {
    Refuse("these bytes are not a snapshot made by islet's Isolate.createSnapshot()");
  }
  if (Get<uint32_t>(data, 8) != kFormat) Refuse("made by an islet release with another snapshot format; make it again");
  std::string version(reinterpret_cast<const char*>(data + 16),
                      strnlen(reinterpret_cast<const char*>(data + 16), kVersionLength));
  uint32_t abi = Get<uint32_t>(data, 12);
  if (version != v8::V8::GetVersion() || abi != NODE_MODULE_VERSION ||
      Get<uint64_t>(data, 64) != BuildConfiguration()) {
    Refuse("it was made by V8 " + version + " (NODE_MODULE_VERSION " + std::to_string(abi) +
               ") but this process runs V8 " + v8::V8::GetVersion() + " (NODE_MODULE_VERSION " +
               std::to_string(NODE_MODULE_VERSION) + "); make the snapshot again with this Node.js",
           "ERR_ISOLATE_SNAPSHOT_VERSION");
  }
  if (Get<uint64_t>(data, 72) != NodeSnapshotDisabled()) {
    Refuse(std::string("it was made by a Node.js process ") + (Get<uint64_t>(data, 72) ? "with" : "without") +
               " --no-node-snapshot and this one runs " + (NodeSnapshotDisabled() ? "with" : "without") +
               " it: their V8 read-only heaps differ; make and load snapshots with the same flags (islet passes "
               "--no-node-snapshot to every process)",
           "ERR_ISOLATE_SNAPSHOT_VERSION");
  }
  uint64_t blob_length = Get<uint64_t>(data, 80);
  if (blob_length != length - kHeaderSize) Refuse("the bytes are truncated or have trailing data");
  if (Checksum(data + kHeaderSize, blob_length) != Get<uint64_t>(data, 88))
    Refuse("the bytes are damaged (checksum mismatch)");
  // One allocation holds the StartupData and the bytes it points to.
  struct Held {
    v8::StartupData startup;
    std::vector<char> bytes;
  };
  auto held = std::make_shared<Held>();
  held->bytes.assign(reinterpret_cast<const char*>(data + kHeaderSize), reinterpret_cast<const char*>(data + length));
  held->startup = v8::StartupData{held->bytes.data(), int(held->bytes.size())};
  if (!held->startup.IsValid()) Refuse("V8 does not accept the blob it holds", "ERR_ISOLATE_SNAPSHOT_VERSION");
  return std::shared_ptr<const v8::StartupData>(held, &held->startup);
}

}  // namespace

std::shared_ptr<const v8::StartupData> OpenSnapshot(const std::shared_ptr<v8::BackingStore>& store) {
  // Isolates are typically made many times from one ExternalCopy: check and copy its bytes once.
  static std::mutex& mutex = *new std::mutex;
  static auto& opened =
      *new std::vector<std::pair<std::weak_ptr<v8::BackingStore>, std::shared_ptr<const v8::StartupData>>>;
  std::lock_guard<std::mutex> lock(mutex);
  for (auto it = opened.begin(); it != opened.end();) {
    std::shared_ptr<v8::BackingStore> held = it->first.lock();
    if (!held) {
      it = opened.erase(it);
    } else if (held == store) {
      return it->second;
    } else {
      ++it;
    }
  }
  if (store->ByteLength() > size_t(INT32_MAX)) Refuse("it is larger than 2 GB");
  auto blob = Open(static_cast<const uint8_t*>(store->Data()), store->ByteLength());
  opened.emplace_back(store, blob);
  return blob;
}

}  // namespace islet
