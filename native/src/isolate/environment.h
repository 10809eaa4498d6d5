// IsolateEnvironment: one V8 isolate and everything islet keeps beside it: its lifetime
// (creation, disposal, disposal requested while it runs), its FIFO of queued work, who is
// executing it right now, its memory limit state, its time accounting, the persistent handles
// other isolates hold into it, the waits tied to it and the JS class templates made for it.
//
// Ownership is one word (`owner`): free, held by one thread (a token per thread), or torn down.
// Torn down is permanent and is only ever set by the thread that holds the isolate, after the
// V8 isolate is gone, so a thread that wants the isolate tests for it *after* trying to take
// it: nobody can lock a freed isolate (see scope.cc).
//
// Node's own isolate also gets an environment (`is_default`): work for it is queued and run on
// Node's thread from a uv_async handle, never on the pool (node_env.cc). Each non-default
// isolate remembers the Node environment that created it (its `creator`): that environment
// keeps Node's loop alive while work for the isolate is queued, and disposes the isolate when
// it shuts down (a worker_thread exiting or terminated).
#pragma once

#include <time.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "isolate/clock.h"
#include "isolate/common.h"

namespace islet {

class ClassHandle;
class CountingAllocator;
class IsolateEnvironment;
class ForegroundRunner;
class PlatformDelegate;

// A unit of queued work. Run() is called with the environment entered (non-default: inside an
// ExecScope on a pool thread; default: on Node's thread inside a HandleScope), or, once the
// isolate is torn down, on whatever thread found it dead: it must then fail without V8.
class Runnable {
 public:
  virtual ~Runnable() = default;
  virtual void Run() = 0;
  // The thread running this task is lost for good (V8 ran out of memory in its isolate): report
  // `error` to whoever waits for the result, from another code path than Run.
  virtual void Abandon(const ThrownValue& error) {}
};

// A wait or a pending result tied to an isolate's life: Cancel() is called (on any thread, at
// most once per registration) when that isolate is disposed or its Node environment shuts
// down, and must wake the waiter or settle the result with an error, without touching V8.
class Cancelable {
 public:
  virtual ~Cancelable() = default;
  virtual void Cancel() = 0;
};

// Internal: C++ state tied to a function object (never unwrapped from JavaScript).
enum class ClassId {
  Isolate,
  Context,
  Script,
  Module,
  Reference,
  ExternalCopy,
  Callback,
  Dereference,
  CopyInto,
  Library,
  InspectorSession,
  Internal,
  Count
};

// A number unique to the calling thread (never 0, never IsolateEnvironment::kTornDown).
uint64_t ThreadToken();

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
  static constexpr uint64_t kFree = 0;
  static constexpr uint64_t kTornDown = ~uint64_t(0);
  // Largest memory limit honoured (MB): larger values are clamped to it (64 GB).
  static constexpr double kMaxMemoryLimitMb = 64 * 1024;

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
  // A new isolate, created by (and owned by) the current thread's Node environment.
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
  // Disposal was requested (the isolate may still be unwinding a run).
  bool disposed() const { return disposed_.load(); }
  // The V8 isolate is gone (non-default) or Node's environment has shut down (default).
  bool torn_down() const { return torn_down_.load(); }
  size_t memory_limit_bytes() const { return memory_limit_; }
  // True when the current thread may enter this isolate directly (Node's thread for the default).
  bool OnOwnThread() const;
  // The Node environment that created this isolate (itself for a default environment).
  IsolateEnvironment& creator() { return creator_ ? *creator_ : *this; }

  // Queues work; runs in FIFO order with the other queued work of this isolate. On a torn down
  // isolate the task runs at once on the calling thread (and fails).
  void Post(std::unique_ptr<Runnable> task);
  // Takes the next queued task; when none is left, clears pool_scheduled and returns null.
  std::unique_ptr<Runnable> PopQueued();
  // Runs everything queued (on the executing thread, environment entered).
  // `limit`: at most that many tasks (Node's loop must not be monopolised by busy isolates).
  void DrainQueue(size_t limit = SIZE_MAX);
  // A queued task of this isolate has finished: Node's loop need not wait for it any more.
  void TaskDone();

  // Requests disposal; immediate when idle, else when the run in progress unwinds. Wakes every
  // wait tied to the isolate. Safe from any thread, any number of times.
  void Dispose();
  // V8 ran out of memory in this isolate on a pool thread, which never returns to it: the
  // isolate is given up (never touched again, its memory kept), what waits on it fails.
  void MarkLost(const std::string& reason);
  // The queued task the owning thread is running (set by AsyncRun), for MarkLost.
  Runnable* in_flight = nullptr;
  bool dispose_requested_while_running() const { return disposed_while_running_.load(); }
  // Called by a limit (memory) from the executing thread: dispose at the end of this run.
  bool memory_limit_hit() const;
  void MarkMemoryLimitHit();

  // Waits and pending results to cancel when this isolate goes away (see Cancelable).
  // Returns false (and registers nothing) when it is already gone.
  bool AddCancelable(const std::shared_ptr<Cancelable>& item);
  void RemoveCancelable(const Cancelable* item);

  // Persistent handles into this isolate (RemoteHandle), released under the lock; the values of
  // References are counted (referenceCount).
  void AddHandle() { handle_count_++; }
  void ReleaseHandle(void* persistent, void (*reset)(void*), void (*destroy)(void*), bool counted);
  int64_t handle_count() const { return handle_count_.load(); }

  // Wrapper objects living in this isolate, deleted when it is disposed.
  void TrackWrapper(ClassHandle* handle);
  void UntrackWrapper(ClassHandle* handle);

  v8::Eternal<v8::FunctionTemplate>& Template(ClassId id) { return templates_[static_cast<int>(id)]; }
  // A context kept for work that needs one but belongs to none (compiling, reading module
  // requests, describing errors); made on first use. The isolate must be entered.
  Local<Context> UtilityContext();
  // Every context islet creates in a non-default isolate goes through here (code generation
  // from strings is routed through the size limit, see limits.cc).
  Local<Context> NewContext();

  // Time spent entered: committed totals plus the span running right now on another thread.
  uint64_t CpuTimeNs() const { return clock.CpuNs(); }
  uint64_t WallTimeNs() const;
  IsolateClock clock;  // written by ExecScope

  // Timeouts: the watchdog records which limit fired for the current timed window.
  std::atomic<uint64_t> timer_token{0};
  std::atomic<int> timer_fired{0};  // 0 none, 1 wall, 2 cpu
  std::string timer_stack;          // written on the isolate's thread in the interrupt
  // The earliest deadline of the run in progress (steady clock, ns; 0 when none): bounds how
  // much code the isolate may generate from strings (limits.cc).
  std::atomic<uint64_t> run_deadline_ns{0};

  size_t ExternalBytes() const;
  // Memory outside the V8 heap (ArrayBuffers, WebAssembly memories, external strings) past the
  // limit; the isolate must be entered on this thread.
  bool ExternalMemoryOverLimit() const;
  // Charges `bytes` held outside the V8 heap to this isolate (external strings, shared memory,
  // buffers copied or moved in), the isolate entered on this thread. Past the limit it first
  // collects garbage (which may hold earlier charges) and tries again; false when that fails
  // too: the isolate is then marked as over its limit. `tell_v8` as CountingAllocator::TryCharge.
  bool ChargeExternal(size_t bytes, bool tell_v8 = true);
  const std::shared_ptr<CountingAllocator>& allocator() const { return allocator_; }
  void RunForegroundTasks();
  // When V8 has tasks pending, queues a pool thread to run them.
  void ScheduleForegroundTasks();

  // Promise rejections nobody handled during the run in progress (limits.cc).
  void NoteUnhandledRejection(Local<v8::Promise> promise);
  void NoteRejectionHandled(Local<v8::Promise> promise);
  void ForgetUnhandledRejections();
  // The first unhandled rejection of this run as an error to throw, if any (isolate entered).
  bool TakeUnhandledRejection(ThrownValue* out);

  // The near-heap-limit state (limits.cc); touched only on the isolate's thread.
  struct HeapLimitState {
    bool granted = false;      // the one margin of this stretch at the limit is spent
    size_t initial_limit = 0;  // V8's heap size limit before any margin
  } heap_limit;

  // The feature in `id`'s slot, or null.
  std::shared_ptr<Feature> GetFeature(FeatureId id);
  // The feature in `id`'s slot, made by `make` when empty; null once the isolate is torn down.
  std::shared_ptr<Feature> GetOrAddFeature(FeatureId id, const std::function<std::shared_ptr<Feature>()>& make);

  // Callbacks to call when V8 loses control of this isolate (set by the Isolate constructor).
  std::function<void(const std::string&)> on_catastrophic_error;

  // The default environment's context used to run queued work (Node's main context).
  v8::Global<Context> default_context;
  // Default environment: the addon's module object as Node sees it (see module/library.cc).
  v8::Global<Object> library;
  // Dynamic import() hook (a function of Node's isolate), see module.cc.
  std::shared_ptr<class CallbackData> dynamic_import_hook;

  // A pool thread holding this isolate waits for Node (applySyncPromise): Node's thread must not
  // wait to enter it meanwhile (it would never get it); it gets ERR_ISOLATE_DEADLOCK instead.
  std::atomic<bool> awaiting_host{false};

  // Ownership bookkeeping, guarded by the scheduler mutex where noted (see scope.cc).
  std::atomic<uint64_t> owner{kFree};
  int owner_depth = 0;          // only touched by the owning thread
  std::atomic<int> waiters{0};  // threads waiting for ownership (they need a notify)
  bool pool_scheduled = false;  // scheduler mutex

  // --- default (Node) environments only, see node_env.cc ---
  // Runs `task` on Node's thread and blocks the caller until done; false when Node's
  // environment is shutting down and the task will never run.
  bool RunBlocking(Runnable& task);
  bool HasBlocking() const { return !blocking_.empty(); }  // scheduler mutex
  // Runs queued blocking requests (called while Node's thread waits).
  void ServiceBlocking(size_t limit = SIZE_MAX);
  // Keeps Node's loop alive while async calls made from it are pending (Node's thread only).
  void RefLoop();
  void UnrefLoop();
  // Keeps Node's loop alive while work of an isolate it created is queued (any thread;
  // AddRemoteRef with the scheduler mutex held).
  void AddRemoteRef();
  void ReleaseRemoteRef();
  // Node's environment is going away (a worker_thread ending, or the process exiting): fails
  // blocking requests, disposes or stops the isolates it created, and waits (bounded) until
  // no pool thread runs any of them. `dispose_owned`: dispose them (worker exit) rather than
  // only stop what runs (process exit: other exit handlers may still use them).
  void Shutdown(bool dispose_owned);

 private:
  friend class ExecScope;
  friend class Scheduler;
  IsolateEnvironment();
  // Precondition: this thread owns the isolate and nothing executes it. Leaves it torn down.
  void Teardown();
  void TeardownFeatures();
  void ProcessReleases();
  void CancelAll();
  // `queued`: Node's own queue holds work (read under the scheduler mutex by the caller).
  void UpdateLoopRef(bool queued);
  static void OnAsync(uv_async_t* handle);

  Isolate* isolate_ = nullptr;
  bool is_default_ = false;
  std::shared_ptr<IsolateEnvironment> creator_;  // non-default: the Node environment that made it
  std::atomic<bool> disposed_{false};
  std::atomic<bool> disposed_while_running_{false};
  std::atomic<bool> torn_down_{false};
  // Held around calls other threads make on the V8 isolate (TerminateExecution) and around the
  // moment it is freed.
  std::mutex lifetime_mutex_;
  size_t memory_limit_ = 0;
  std::string label_;
  std::atomic<bool> memory_hit_{false};
  std::shared_ptr<CountingAllocator> allocator_;
  std::shared_ptr<ForegroundRunner> foreground_;
  std::unique_ptr<PlatformDelegate> delegate_;

  std::deque<std::unique_ptr<Runnable>> queue_;  // guarded by the scheduler mutex

  std::mutex cancel_mutex_;
  bool cancelled_ = false;
  std::vector<std::weak_ptr<Cancelable>> cancelables_;

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
  v8::Global<Context> utility_context_;
  std::vector<v8::Global<v8::Promise>> unhandled_;  // weak

  // Default environment: Node's loop, the handle that wakes it, what it waits for.
  std::thread::id thread_;
  uv_async_t* async_ = nullptr;
  int async_refs_ = 0;               // Node's thread only
  std::atomic<int> remote_refs_{0};  // any thread
  bool loop_refd_ = false;           // Node's thread only
  std::atomic<bool> shutting_down_{false};
  struct Blocking {
    Runnable* task;
    bool done = false;
    bool ran = false;
  };
  std::deque<Blocking*> blocking_;  // scheduler mutex
  std::mutex owned_mutex_;
  std::vector<std::weak_ptr<IsolateEnvironment>> owned_;
};

using EnvPtr = std::shared_ptr<IsolateEnvironment>;

// Internal to isolate/: Node's platform (set when the addon is first loaded) and the registry
// that finds an environment from its V8 isolate.
extern node::MultiIsolatePlatform* g_platform;
void RegisterEnvironment(Isolate* isolate, const EnvPtr& env);
void UnregisterEnvironment(Isolate* isolate);

}  // namespace islet
