// IsolateEnvironment: one V8 isolate and everything islet keeps beside it: its lifetime
// (creation, disposal, disposal requested while it runs), its FIFO of queued work, who is
// executing it right now, its memory limit state, its time accounting, the persistent handles
// other isolates hold into it and the JS class templates made for it.
//
// Node's own isolate also gets an environment (`is_default`): work for it is queued and run on
// Node's thread from a uv_async handle, never on the pool.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "isolate/common.h"

namespace islet {

class ClassHandle;
class CountingAllocator;
class ForegroundRunner;

// A unit of queued work. Run() is called with the environment entered (non-default: inside an
// ExecScope on a pool thread; default: on Node's thread inside a HandleScope).
class Runnable {
 public:
  virtual ~Runnable() = default;
  virtual void Run() = 0;
};

enum class ClassId {
  Isolate, Context, Script, Module, Reference, ExternalCopy, Callback, Dereference, CopyInto, InspectorSession, Count
};

// Optional per-isolate features (the CPU profiler, the inspector) keep their state beside the
// environment, made on first use. Teardown calls each one's Teardown() with the isolate locked
// and entered, before the isolate is disposed; no feature can be added after that.
class Feature {
 public:
  virtual ~Feature() = default;
  virtual void Teardown(Isolate* isolate) = 0;
};
enum class FeatureId { CpuProfiler, Inspector, Count };

class IsolateEnvironment : public std::enable_shared_from_this<IsolateEnvironment> {
 public:
  struct Options {
    size_t memory_limit_mb = 128;
    // Atomics.wait sleeps the thread running the isolate: no CPU is used, so no CPU limit ends
    // it, and on Node's thread it stalls every other isolate. Hosts of untrusted code turn it off.
    bool allow_atomics_wait = true;
    // a name for diagnostics (the heap-stall watch's line on stderr); the addon gives it no meaning
    std::string label;
    // A startup snapshot to create the isolate from (see isolate/snapshot.h), kept alive with
    // the isolate, and the C++ functions its contexts may refer to.
    std::shared_ptr<const v8::StartupData> snapshot;
    const intptr_t* external_references = nullptr;
  };
  static std::shared_ptr<IsolateEnvironment> Create(const Options& options);
  static std::shared_ptr<IsolateEnvironment> CreateDefault(Isolate* isolate, Local<Context> context);
  // The environment whose isolate the current thread is executing (Node's on its own thread).
  static IsolateEnvironment* Current();
  static std::shared_ptr<IsolateEnvironment> Find(Isolate* isolate);
  // Node's environment when the current thread is a Node thread that loaded the addon.
  static IsolateEnvironment* DefaultOnThisThread();

  ~IsolateEnvironment();

  Isolate* isolate() const { return isolate_; }
  bool is_default() const { return is_default_; }
  // the name given at creation, for diagnostics only
  const std::string& label() const { return label_; }
  bool disposed() const { return disposed_.load(); }
  size_t memory_limit_bytes() const { return memory_limit_; }
  // True when the current thread may enter this isolate directly (Node's thread for the default).
  bool OnOwnThread() const;

  // Queues work; runs in FIFO order with the other queued work of this isolate.
  void Post(std::unique_ptr<Runnable> task);
  // Default environment only: runs `task` on Node's thread and blocks the caller until done.
  void RunBlocking(Runnable& task);
  // Takes the next queued task; when none is left, clears pool_scheduled and returns null.
  std::unique_ptr<Runnable> PopQueued();
  // Caller holds the scheduler mutex.
  bool HasBlocking() const { return !blocking_.empty(); }
  bool torn_down() const { return torn_down_.load(); }
  // Runs everything queued (on the executing thread, environment entered).
  // `limit`: at most that many tasks (Node's loop must not be monopolised by busy isolates).
  void DrainQueue(size_t limit = SIZE_MAX);
  // Default environment: runs queued blocking requests (called while Node's thread waits).
  void ServiceBlocking(size_t limit = SIZE_MAX);

  // Requests disposal; immediate when idle, else when the current run unwinds.
  void Dispose();
  // Called by a limit (memory) from the executing thread: dispose at the end of this run.
  bool memory_limit_hit() const;
  void MarkMemoryLimitHit();
  bool dispose_requested_while_running() const { return disposed_while_running_.load(); }

  // Persistent handles into this isolate (RemoteHandle), released under the lock; the values of
  // References are counted (referenceCount).
  void AddHandle() { handle_count_++; }
  void ReleaseHandle(void* persistent, void (*reset)(void*), void (*destroy)(void*), bool counted);
  int64_t handle_count() const { return handle_count_.load(); }

  // Wrapper objects living in this isolate, deleted when it is disposed.
  void TrackWrapper(ClassHandle* handle);
  void UntrackWrapper(ClassHandle* handle);

  v8::Eternal<v8::FunctionTemplate>& Template(ClassId id) { return templates_[static_cast<int>(id)]; }
  v8::Eternal<v8::Private>& PrivateKey() { return private_key_; }
  // A context kept for work that needs one but belongs to none (reading module requests);
  // made on first use. The isolate must be entered.
  Local<Context> UtilityContext() {
    if (utility_context_.IsEmpty()) utility_context_.Set(isolate_, Context::New(isolate_));
    return utility_context_.Get(isolate_);
  }

  // Time spent entered (ExecScope adds to these when it exits).
  std::atomic<uint64_t> cpu_time_ns{0};
  std::atomic<uint64_t> wall_time_ns{0};

  // Timeouts: the watchdog records which limit fired for the current timed window.
  std::atomic<uint64_t> timer_token{0};
  std::atomic<int> timer_fired{0};  // 0 none, 1 wall, 2 cpu
  std::string timer_stack;          // written on the isolate's thread in the interrupt

  size_t ExternalBytes() const;
  // Memory outside the V8 heap (ArrayBuffers, WebAssembly memories) past the limit; the isolate
  // must be entered on this thread.
  bool ExternalMemoryOverLimit() const {
    return isolate_->AdjustAmountOfExternalAllocatedMemory(0) > int64_t(memory_limit_);
  }
  void RunForegroundTasks();
  // When V8 has tasks pending, queues a pool thread to run them.
  void ScheduleForegroundTasks();

  // The feature in `id`'s slot, or null.
  std::shared_ptr<Feature> GetFeature(FeatureId id);
  // The feature in `id`'s slot, made by `make` when empty; null once the isolate is torn down.
  std::shared_ptr<Feature> GetOrAddFeature(FeatureId id, const std::function<std::shared_ptr<Feature>()>& make);

  // Callbacks to call when V8 loses control of this isolate (set by the Isolate constructor).
  std::function<void(const std::string&)> on_catastrophic_error;

  // The default environment's context used to run queued work (Node's main context).
  v8::Global<Context> default_context;
  // Dynamic import() hook (a function of Node's isolate), see module.cc.
  std::shared_ptr<class CallbackData> dynamic_import_hook;

  // Ownership bookkeeping, guarded by the scheduler mutex (see scope.cc).
  std::atomic<std::thread::id> owner{};
  int owner_depth = 0;           // only touched by the owning thread
  std::atomic<int> waiters{0};   // threads waiting for ownership (they need a notify)
  bool pool_scheduled = false;

 private:
  friend class ExecScope;
  friend class Scheduler;
  IsolateEnvironment() = default;
  void Teardown();
  void TeardownFeatures();
  void ProcessReleases();
  static void OnAsync(uv_async_t* handle);
  static size_t NearHeapLimit(void* data, size_t current, size_t initial);
  static void OnOOM(const char* location, const v8::OOMDetails& details);

  Isolate* isolate_ = nullptr;
  bool is_default_ = false;
  std::atomic<bool> disposed_{false};
  std::atomic<bool> disposed_while_running_{false};
  std::atomic<bool> torn_down_{false};
  size_t memory_limit_ = 0;
  std::string label_;
  std::atomic<bool> memory_hit_{false};
  std::shared_ptr<CountingAllocator> allocator_;
  std::shared_ptr<ForegroundRunner> foreground_;
  std::unique_ptr<class PlatformDelegate> delegate_;

  std::deque<std::unique_ptr<Runnable>> queue_;  // guarded by the scheduler mutex
  struct Blocking {
    Runnable* task;
    bool done = false;
  };
  std::deque<Blocking*> blocking_;  // default environment only

  std::atomic<int64_t> handle_count_{0};
  std::mutex release_mutex_;
  struct PendingRelease {
    void* persistent;
    void (*reset)(void*);    // Reset() then delete: needs the isolate locked
    void (*destroy)(void*);  // delete only: after the isolate is gone
  };
  std::vector<PendingRelease> pending_;
  std::atomic<bool> has_pending_{false};

  std::shared_ptr<const v8::StartupData> snapshot_;
  std::mutex feature_mutex_;
  std::shared_ptr<Feature> features_[static_cast<int>(FeatureId::Count)];
  bool features_closed_ = false;

  std::mutex wrapper_mutex_;
  std::unordered_set<ClassHandle*> wrappers_;

  v8::Eternal<v8::FunctionTemplate> templates_[static_cast<int>(ClassId::Count)];
  v8::Eternal<v8::Private> private_key_;
  v8::Eternal<Context> utility_context_;

  // Default environment: Node's loop and the handle that wakes it.
  std::thread::id thread_;
  uv_async_t* async_ = nullptr;
  int async_refs_ = 0;

 public:
  // Default environment: keep Node's loop alive while async calls made from it are pending.
  void RefLoop();
  void UnrefLoop();
};

using EnvPtr = std::shared_ptr<IsolateEnvironment>;

}  // namespace islet
