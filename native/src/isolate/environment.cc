// Lifetime of non-default isolates: creation in the order that works inside Node 20 (Allocate,
// register with Node's platform through our own delegate, Initialize), disposal whenever
// nobody is executing the isolate, and the queue that carries work to it.
#include "isolate/environment.h"

#include <algorithm>
#include <unordered_map>

#include "isolate/allocator.h"
#include "isolate/foreground.h"
#include "isolate/limits.h"
#include "isolate/scope.h"
#include "module/handles.h"

namespace islet {
namespace {

// Never destroyed: other threads may still use them while the process exits.
std::mutex& g_registry_mutex = *new std::mutex;
auto& g_registry = *new std::unordered_map<Isolate*, std::weak_ptr<IsolateEnvironment>>;
std::atomic<uint64_t> g_next_token{1};

}  // namespace

node::MultiIsolatePlatform* g_platform = nullptr;

uint64_t ThreadToken() {
  thread_local uint64_t token = g_next_token.fetch_add(1);
  return token;
}

void RegisterEnvironment(Isolate* isolate, const EnvPtr& env) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  g_registry[isolate] = env;
}

void UnregisterEnvironment(Isolate* isolate) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  g_registry.erase(isolate);
}

EnvPtr IsolateEnvironment::Create(const Options& options) {
  IsolateEnvironment* current = Current();
  if (!current || !g_platform) ThrowError(ErrorClass::Error, "islet's addon is not initialised on this thread");
  EnvPtr creator = current->creator().shared_from_this();
  if (creator->shutting_down_) {
    ThrowError(ErrorClass::Error, "Node's environment is shutting down: no new isolates", "ERR_ISOLATE_DISPOSED");
  }
  EnvPtr env(new IsolateEnvironment());
  env->creator_ = creator;
  env->memory_limit_ = options.memory_limit_mb * 1024 * 1024;
  env->label_ = options.label;
  env->allocator_ = std::make_shared<CountingAllocator>(env->memory_limit_);
  env->foreground_ = std::make_shared<ForegroundRunner>(env);
  env->delegate_ = std::make_unique<PlatformDelegate>(env->foreground_);

  Isolate::CreateParams params;
  params.array_buffer_allocator_shared = env->allocator_;
  size_t young = std::min<size_t>(env->memory_limit_ / 8, 16 * 1024 * 1024);
  params.constraints.set_max_young_generation_size_in_bytes(young);
  params.constraints.set_max_old_generation_size_in_bytes(env->memory_limit_);
  params.allow_atomics_wait = options.allow_atomics_wait;
  if (options.snapshot) {
    params.snapshot_blob = options.snapshot.get();
    params.external_references = options.external_references;
    env->snapshot_ = options.snapshot;
  }

  Isolate* isolate = Isolate::Allocate();
  g_platform->RegisterIsolate(isolate, env->delegate_.get());
  Isolate::Initialize(isolate, params);
  env->isolate_ = isolate;
  env->allocator_->SetIsolate(isolate);
  {
    v8::Locker locker(isolate);
    Isolate::Scope scope(isolate);
    HandleScope handles(isolate);
    // Microtasks run inside the timed window of each call (see task.cc), never implicitly.
    isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
    InstallLimits(*env);
    InstallModuleHooks(isolate);
  }
  RegisterEnvironment(isolate, env);
  {
    std::lock_guard<std::mutex> lock(creator->owned_mutex_);
    auto& owned = creator->owned_;
    if (owned.size() >= 64 && (owned.size() & (owned.size() - 1)) == 0) {
      owned.erase(std::remove_if(owned.begin(), owned.end(), [](auto& weak) { return weak.expired(); }), owned.end());
    }
    owned.push_back(env);
  }
  return env;
}

IsolateEnvironment* IsolateEnvironment::Current() {
  if (ExecScope* scope = ExecScope::Current()) return &scope->env();
  return DefaultOnThisThread();
}

EnvPtr IsolateEnvironment::Find(Isolate* isolate) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  auto it = g_registry.find(isolate);
  return it == g_registry.end() ? nullptr : it->second.lock();
}

IsolateEnvironment::IsolateEnvironment() = default;

IsolateEnvironment::~IsolateEnvironment() {
  if (!is_default_ && !torn_down_) {
    // The last handle went away: nobody can be executing the isolate (executors hold a handle).
    disposed_ = true;
    owner = ThreadToken();
    owner_depth = 1;
    Teardown();
  }
}

bool IsolateEnvironment::OnOwnThread() const {
  if (is_default_) return std::this_thread::get_id() == thread_;
  return owner.load() == ThreadToken();
}

void IsolateEnvironment::Post(std::unique_ptr<Runnable> task) {
  std::unique_lock<std::mutex> lock(Scheduler::Mutex());
  if (torn_down_) {
    // Nobody will execute this isolate again: let the task fail on this thread.
    lock.unlock();
    task->Run();
    return;
  }
  queue_.push_back(std::move(task));
  if (is_default_) {
    if (!async_) return;
    // Queued work keeps Node's loop alive until it has run (OnAsync releases it); from another
    // thread, the poster's own pending work holds the loop meanwhile (AddRemoteRef).
    if (std::this_thread::get_id() == thread_) UpdateLoopRef(true);
    uv_async_send(async_);
    return;
  }
  creator_->AddRemoteRef();
  if (!pool_scheduled) {
    pool_scheduled = true;
    Scheduler::Schedule(shared_from_this());
  }
}

std::unique_ptr<Runnable> IsolateEnvironment::PopQueued() {
  std::lock_guard<std::mutex> lock(Scheduler::Mutex());
  if (queue_.empty()) {
    pool_scheduled = false;
    return nullptr;
  }
  std::unique_ptr<Runnable> task = std::move(queue_.front());
  queue_.pop_front();
  return task;
}

void IsolateEnvironment::TaskDone() {
  if (!is_default_) creator_->ReleaseRemoteRef();
}

void IsolateEnvironment::DrainQueue(size_t limit) {
  for (size_t done = 0; done < limit; ++done) {
    std::unique_ptr<Runnable> task;
    {
      std::lock_guard<std::mutex> lock(Scheduler::Mutex());
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task->Run();
    task.reset();
    if (!is_default_ && !disposed()) isolate_->PerformMicrotaskCheckpoint();
    TaskDone();
  }
}

void IsolateEnvironment::Dispose() {
  if (is_default_) return;
  if (disposed_.exchange(true)) return;
  EnvPtr self = weak_from_this().lock();  // a wrapper deleted by the teardown may hold the last handle
  CancelAll();                            // wake the waits first: a run blocked in one can then unwind
  uint64_t expected = kFree;
  if (owner.compare_exchange_strong(expected, ThreadToken())) {
    owner_depth = 1;
    Teardown();
    return;
  }
  if (expected == kTornDown) return;
  // Executing somewhere (maybe lower on this very stack): stop the JS; the thread that holds
  // the isolate tears it down when its outermost scope unwinds (scope.cc).
  disposed_while_running_ = true;
  std::lock_guard<std::mutex> lock(lifetime_mutex_);
  if (!torn_down_) isolate_->TerminateExecution();
}

void IsolateEnvironment::Teardown() {
  EnvPtr self = weak_from_this().lock();  // null when called from the destructor
  disposed_ = true;
  CancelAll();
  {
    v8::Locker locker(isolate_);
    Isolate::Scope scope(isolate_);
    HandleScope handles(isolate_);
    DrainQueue();  // queued calls fail with "Isolate is disposed"
    std::unordered_set<ClassHandle*> wrappers;
    {
      std::lock_guard<std::mutex> lock(wrapper_mutex_);
      wrappers.swap(wrappers_);
    }
    for (ClassHandle* handle : wrappers) {
      handle->Detach();
      delete handle;
    }
    ProcessReleases();
    TeardownFeatures();
    unhandled_.clear();
    utility_context_.Reset();
    foreground_->Clear();
    allocator_->SetIsolate(nullptr);  // charges released while V8 disposes it need not be reported
    std::lock_guard<std::mutex> release_lock(release_mutex_);
    std::lock_guard<std::mutex> lifetime_lock(lifetime_mutex_);
    torn_down_ = true;
  }
  g_platform->UnregisterIsolate(isolate_);
  isolate_->Dispose();
  UnregisterEnvironment(isolate_);
  std::deque<std::unique_ptr<Runnable>> leftovers;
  {
    std::lock_guard<std::mutex> lock(Scheduler::Mutex());
    leftovers.swap(queue_);
    owner = kTornDown;
    owner_depth = 0;
    Scheduler::OwnershipChanged().notify_all();
  }
  for (auto& task : leftovers) {
    task->Run();
    task.reset();
    TaskDone();
  }
}

void IsolateEnvironment::MarkLost(const std::string& reason) {
  disposed_ = true;
  {
    std::lock_guard<std::mutex> release_lock(release_mutex_);
    std::lock_guard<std::mutex> lifetime_lock(lifetime_mutex_);
    torn_down_ = true;  // from now on nothing touches the V8 isolate
  }
  CancelAll();
  ErrorData data;
  data.message = "Isolate was disposed during execution due to memory limit (V8 could not continue it: " + reason + ")";
  data.code = "ERR_ISOLATE_MEMORY_LIMIT";
  ThrownValue error{ErrorTransferable(std::move(data))};
  if (in_flight) {
    in_flight->Abandon(error);
    in_flight = nullptr;
    TaskDone();
  }
  std::deque<std::unique_ptr<Runnable>> leftovers;
  {
    std::lock_guard<std::mutex> lock(Scheduler::Mutex());
    leftovers.swap(queue_);
    Scheduler::OwnershipChanged().notify_all();  // waiters find it gone
  }
  for (auto& task : leftovers) {
    task->Run();
    task.reset();
    TaskDone();
  }
}

bool IsolateEnvironment::AddCancelable(const std::shared_ptr<Cancelable>& item) {
  std::lock_guard<std::mutex> lock(cancel_mutex_);
  if (cancelled_) return false;
  if (cancelables_.size() >= 64 && (cancelables_.size() & (cancelables_.size() - 1)) == 0) {
    cancelables_.erase(
        std::remove_if(cancelables_.begin(), cancelables_.end(), [](auto& weak) { return weak.expired(); }),
        cancelables_.end());
  }
  cancelables_.push_back(item);
  return true;
}

void IsolateEnvironment::CancelAll() {
  std::vector<std::weak_ptr<Cancelable>> items;
  {
    std::lock_guard<std::mutex> lock(cancel_mutex_);
    cancelled_ = true;
    items.swap(cancelables_);
  }
  for (auto& weak : items) {
    if (auto item = weak.lock()) item->Cancel();
  }
}

std::shared_ptr<Feature> IsolateEnvironment::GetFeature(FeatureId id) {
  std::lock_guard<std::mutex> lock(feature_mutex_);
  return features_[static_cast<int>(id)];
}

std::shared_ptr<Feature> IsolateEnvironment::GetOrAddFeature(FeatureId id,
                                                             const std::function<std::shared_ptr<Feature>()>& make) {
  std::lock_guard<std::mutex> lock(feature_mutex_);
  if (features_closed_) return nullptr;
  auto& slot = features_[static_cast<int>(id)];
  if (!slot) slot = make();
  return slot;
}

void IsolateEnvironment::TeardownFeatures() {
  std::vector<std::shared_ptr<Feature>> features;
  {
    std::lock_guard<std::mutex> lock(feature_mutex_);
    features_closed_ = true;
    for (auto& slot : features_) {
      if (slot) features.push_back(std::move(slot));
    }
  }
  for (auto& feature : features) feature->Teardown(isolate_);
}

void IsolateEnvironment::ReleaseHandle(void* persistent, void (*reset)(void*), void (*destroy)(void*), bool counted) {
  if (counted) handle_count_--;
  std::unique_lock<std::mutex> lock(release_mutex_);
  if (torn_down_) {
    destroy(persistent);
  } else if (OnOwnThread()) {
    lock.unlock();
    reset(persistent);
  } else {
    pending_.push_back({persistent, reset, destroy});
    has_pending_ = true;
    if (is_default_ && async_ && pending_.size() == 1) uv_async_send(async_);
  }
}

void IsolateEnvironment::ProcessReleases() {
  if (!has_pending_.load()) return;
  std::vector<PendingRelease> pending;
  {
    std::lock_guard<std::mutex> lock(release_mutex_);
    pending.swap(pending_);
    has_pending_ = false;
  }
  for (auto& item : pending) item.reset(item.persistent);
}

void IsolateEnvironment::TrackWrapper(ClassHandle* handle) {
  std::lock_guard<std::mutex> lock(wrapper_mutex_);
  wrappers_.insert(handle);
}
void IsolateEnvironment::UntrackWrapper(ClassHandle* handle) {
  std::lock_guard<std::mutex> lock(wrapper_mutex_);
  wrappers_.erase(handle);
}

Local<Context> IsolateEnvironment::UtilityContext() {
  if (utility_context_.IsEmpty()) utility_context_.Reset(isolate_, NewContext());
  return utility_context_.Get(isolate_);
}

Local<Context> IsolateEnvironment::NewContext() {
  Local<Context> context = Context::New(isolate_);
  if (context.IsEmpty()) {
    // V8 refuses when the isolate is out of memory or its execution is being terminated.
    ThrowError(ErrorClass::Error,
               "A new context could not be created (the isolate is out of memory or being terminated)");
  }
  if (!is_default_) GuardCodeGeneration(isolate_, context);
  return context;
}

uint64_t IsolateEnvironment::WallTimeNs() const { return clock.WallNs(WallNs()); }

bool IsolateEnvironment::memory_limit_hit() const {
  return memory_hit_.load() || (allocator_ && allocator_->refused());
}
void IsolateEnvironment::MarkMemoryLimitHit() { memory_hit_ = true; }
size_t IsolateEnvironment::ExternalBytes() const { return allocator_ ? allocator_->allocated() : 0; }
bool IsolateEnvironment::ExternalMemoryOverLimit() const {
  return isolate_->AdjustAmountOfExternalAllocatedMemory(0) > int64_t(memory_limit_);
}
bool IsolateEnvironment::ChargeExternal(size_t bytes, bool tell_v8) {
  if (!allocator_ || allocator_->TryCharge(bytes, tell_v8)) return true;
  isolate_->LowMemoryNotification();  // garbage may still hold earlier charges
  if (allocator_->TryCharge(bytes, tell_v8)) return true;
  allocator_->MarkRefused();
  return false;
}

void IsolateEnvironment::ScheduleForegroundTasks() {
  if (foreground_ && foreground_->HasWork() && !disposed()) {
    class Noop : public Runnable {
     public:
      void Run() override {}
    };
    Post(std::make_unique<Noop>());
  }
}

void IsolateEnvironment::RunForegroundTasks() {
  if (foreground_) foreground_->RunDue();
}

}  // namespace islet
