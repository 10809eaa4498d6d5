// Lifetime of isolates: creation in the order that works inside Node 20 (Allocate, register
// with Node's platform through our own delegate, Initialize), disposal whenever nobody is
// executing the isolate, and the queues that carry work to it.
#include "isolate/stuck_runs.h"
#include "isolate/environment.h"

#include <chrono>
#include <cstdio>
#include <limits>

#include "isolate/allocator.h"
#include "module/handles.h"
#include "isolate/scope.h"

namespace islet {
namespace {

// Never destroyed: other threads may still use them while the process exits.
std::mutex& g_registry_mutex = *new std::mutex;
std::unordered_map<Isolate*, std::weak_ptr<IsolateEnvironment>>& g_registry = *new std::unordered_map<Isolate*, std::weak_ptr<IsolateEnvironment>>;
std::vector<EnvPtr>& g_defaults = *new std::vector<EnvPtr>;  // Node isolates (main thread, workers) this addon was loaded in
thread_local IsolateEnvironment* t_default = nullptr;
node::MultiIsolatePlatform* g_platform = nullptr;

class NoopRunnable : public Runnable {
 public:
  void Run() override {}
};

}  // namespace

// V8 posts foreground tasks (GC finalisation, compilation jobs) for each isolate here; they run
// on whichever thread executes the isolate, when it leaves the isolate.
class ForegroundRunner : public v8::TaskRunner {
 public:
  explicit ForegroundRunner(std::weak_ptr<IsolateEnvironment> env) : env_(std::move(env)) {}

  void PostTask(std::unique_ptr<v8::Task> task) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
      count_++;
      ready_++;
    }
    Wake();
  }
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override { PostTask(std::move(task)); }
  void PostDelayedTask(std::unique_ptr<v8::Task> task, double delay) override {
    std::lock_guard<std::mutex> lock(mutex_);
    delayed_.emplace_back(Now() + delay, std::move(task));
    count_++;
    earliest_due_ = std::min(earliest_due_.load(), Now() + delay);
  }
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task, double delay) override {
    PostDelayedTask(std::move(task), delay);
  }
  void PostIdleTask(std::unique_ptr<v8::IdleTask>) override {}
  bool IdleTasksEnabled() override { return false; }
  bool NonNestableTasksEnabled() const override { return true; }
  bool NonNestableDelayedTasksEnabled() const override { return true; }

  // Tasks ready to run now (delayed ones only once due).
  bool HasWork() const {
    if (ready_.load() > 0) return true;
    return count_.load() > 0 && earliest_due_.load() <= Now();
  }
  // Runs the tasks that are due; the isolate is entered by the caller.
  void RunDue() {
    if (count_.load() == 0) return;  // the common case, without taking the mutex
    std::deque<std::unique_ptr<v8::Task>> ready;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready.swap(tasks_);
      count_ -= ready.size();
      ready_ = 0;
      double now = Now();
      double earliest = std::numeric_limits<double>::infinity();
      for (auto it = delayed_.begin(); it != delayed_.end();) {
        if (it->first <= now) {
          ready.push_back(std::move(it->second));
          it = delayed_.erase(it);
          count_--;
        } else {
          earliest = std::min(earliest, it->first);
          ++it;
        }
      }
      earliest_due_ = earliest;
    }
    for (auto& task : ready) task->Run();
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.clear();
    delayed_.clear();
    count_ = 0;
    ready_ = 0;
    earliest_due_ = std::numeric_limits<double>::infinity();
  }

 private:
  static double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
  void Wake() {
    // An idle isolate gets a pool thread to run the task; a running one runs it when it leaves.
    auto env = env_.lock();
    if (!env || env->disposed() || env->owner.load() != std::thread::id()) return;
    env->Post(std::make_unique<NoopRunnable>());
  }
  std::weak_ptr<IsolateEnvironment> env_;
  std::mutex mutex_;
  std::deque<std::unique_ptr<v8::Task>> tasks_;
  std::vector<std::pair<double, std::unique_ptr<v8::Task>>> delayed_;
  std::atomic<size_t> count_{0};  // tasks + delayed, read without the mutex
  std::atomic<size_t> ready_{0};  // tasks (not delayed)
  std::atomic<double> earliest_due_{std::numeric_limits<double>::infinity()};
};

class PlatformDelegate : public node::IsolatePlatformDelegate {
 public:
  explicit PlatformDelegate(std::shared_ptr<ForegroundRunner> runner) : runner_(std::move(runner)) {}
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner() override { return runner_; }
  bool IdleTasksEnabled() override { return false; }

 private:
  std::shared_ptr<ForegroundRunner> runner_;
};

EnvPtr IsolateEnvironment::Create(const Options& options) {
  EnvPtr env(new IsolateEnvironment());
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
  {
    v8::Locker locker(isolate);
    Isolate::Scope scope(isolate);
    HandleScope handles(isolate);
    // Microtasks run inside the timed window of each call (see task.cc), never implicitly.
    isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
    isolate->AddNearHeapLimitCallback(NearHeapLimit, env.get());
    isolate->SetOOMErrorHandler(OnOOM);
    InstallModuleHooks(isolate);
  }
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    g_registry[isolate] = env;
  }
  return env;
}

EnvPtr IsolateEnvironment::CreateDefault(Isolate* isolate, Local<Context> context) {
  EnvPtr env(new IsolateEnvironment());
  env->isolate_ = isolate;
  env->is_default_ = true;
  env->thread_ = std::this_thread::get_id();
  env->default_context.Reset(isolate, context);
  if (!g_platform) g_platform = node::GetMultiIsolatePlatform(node::GetCurrentEnvironment(context));
  env->async_ = new uv_async_t;
  uv_async_init(node::GetCurrentEventLoop(isolate), env->async_, OnAsync);
  env->async_->data = env.get();
  uv_unref(reinterpret_cast<uv_handle_t*>(env->async_));
  t_default = env.get();
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    g_registry[isolate] = env;
    g_defaults.push_back(env);
  }
  node::AddEnvironmentCleanupHook(
      isolate,
      [](void* data) {
        auto* raw = static_cast<IsolateEnvironment*>(data);
        raw->disposed_ = true;
        raw->default_context.Reset();
        uv_close(reinterpret_cast<uv_handle_t*>(raw->async_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
        raw->async_ = nullptr;
        {
          std::lock_guard<std::mutex> lock(raw->release_mutex_);
          raw->torn_down_ = true;
        }
        std::lock_guard<std::mutex> lock(g_registry_mutex);
        g_registry.erase(raw->isolate_);
        if (t_default == raw) t_default = nullptr;
        // Kept alive (leaked) on purpose: handles may still point here while Node shuts down.
      },
      env.get());
  return env;
}

IsolateEnvironment* IsolateEnvironment::Current() {
  if (ExecScope* scope = ExecScope::Current()) return &scope->env();
  return t_default;
}

IsolateEnvironment* IsolateEnvironment::DefaultOnThisThread() { return t_default; }

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

EnvPtr IsolateEnvironment::Find(Isolate* isolate) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  auto it = g_registry.find(isolate);
  return it == g_registry.end() ? nullptr : it->second.lock();
}

IsolateEnvironment::~IsolateEnvironment() {
  if (!is_default_ && !torn_down_) {
    disposed_ = true;
    owner = std::this_thread::get_id();
    owner_depth = 1;
    Teardown();
  }
}

bool IsolateEnvironment::OnOwnThread() const {
  if (is_default_) return std::this_thread::get_id() == thread_;
  return owner.load() == std::this_thread::get_id();
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
    if (async_) uv_async_send(async_);
  } else if (!pool_scheduled) {
    pool_scheduled = true;
    Scheduler::Schedule(shared_from_this());
  }
}

void IsolateEnvironment::RunBlocking(Runnable& task) {
  std::unique_lock<std::mutex> lock(Scheduler::Mutex());
  if (!async_) ThrowError(ErrorClass::Error, "Node's isolate is shutting down", "ERR_ISOLATE_DISPOSED");
  Blocking request{&task};
  blocking_.push_back(&request);
  uv_async_send(async_);
  Scheduler::OwnershipChanged().notify_all();
  Scheduler::OwnershipChanged().wait(lock, [&] { return request.done; });
}

void IsolateEnvironment::ServiceBlocking(size_t limit) {
  for (size_t done = 0; done < limit; ++done) {
    Blocking* request;
    {
      std::lock_guard<std::mutex> lock(Scheduler::Mutex());
      if (blocking_.empty()) return;
      request = blocking_.front();
      blocking_.pop_front();
    }
    request->task->Run();
    std::lock_guard<std::mutex> lock(Scheduler::Mutex());
    request->done = true;
    Scheduler::OwnershipChanged().notify_all();
  }
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
    if (!is_default_ && !disposed()) isolate_->PerformMicrotaskCheckpoint();
  }
}

void IsolateEnvironment::OnAsync(uv_async_t* handle) {
  auto* env = static_cast<IsolateEnvironment*>(handle->data);
  Isolate* isolate = env->isolate_;
  HandleScope handles(isolate);
  Local<Context> context = env->default_context.Get(isolate);
  Context::Scope context_scope(context);
  env->ProcessReleases();
  // A callback scope makes Node run process.nextTick and microtasks after we resolve promises.
  node::CallbackScope callback_scope(isolate, Object::New(isolate), {0, 0});
  // Only what was queued when we woke: busy isolates keep posting, and Node's other work
  // (timers, sockets) must get its turn. Anything left wakes us again on the next iteration.
  size_t blocking, queued;
  {
    std::lock_guard<std::mutex> lock(Scheduler::Mutex());
    blocking = env->blocking_.size();
    queued = env->queue_.size();
  }
  env->ServiceBlocking(blocking);
  env->DrainQueue(queued);
  std::lock_guard<std::mutex> lock(Scheduler::Mutex());
  if ((!env->blocking_.empty() || !env->queue_.empty()) && env->async_) uv_async_send(env->async_);
}

void IsolateEnvironment::RefLoop() {
  if (async_ && async_refs_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
}
void IsolateEnvironment::UnrefLoop() {
  if (async_ && --async_refs_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
}

void IsolateEnvironment::Dispose() {
  if (is_default_) return;
  if (disposed_.exchange(true)) return;
  std::thread::id none;
  if (!owner.compare_exchange_strong(none, std::this_thread::get_id())) {
    // Executing somewhere (maybe lower on this very stack): stop the JS; the outermost
    // ExecScope tears the isolate down when it unwinds.
    disposed_while_running_ = true;
    isolate_->TerminateExecution();
    return;
  }
  owner_depth = 1;
  Teardown();
}

void IsolateEnvironment::Teardown() {
  // Precondition: this thread owns the isolate, nothing is executing it.
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
    foreground_->Clear();
    {
      std::lock_guard<std::mutex> lock(release_mutex_);
      torn_down_ = true;
    }
  }
  g_platform->UnregisterIsolate(isolate_);
  isolate_->Dispose();
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    g_registry.erase(isolate_);
  }
  std::deque<std::unique_ptr<Runnable>> leftovers;
  {
    std::lock_guard<std::mutex> lock(Scheduler::Mutex());
    leftovers.swap(queue_);
    owner = std::thread::id();
    owner_depth = 0;
    Scheduler::OwnershipChanged().notify_all();
  }
  for (auto& task : leftovers) task->Run();
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

bool IsolateEnvironment::memory_limit_hit() const { return memory_hit_.load() || (allocator_ && allocator_->refused()); }
void IsolateEnvironment::MarkMemoryLimitHit() { memory_hit_ = true; }
size_t IsolateEnvironment::ExternalBytes() const { return allocator_ ? allocator_->allocated() : 0; }
void IsolateEnvironment::ScheduleForegroundTasks() {
  if (foreground_ && foreground_->HasWork()) Post(std::make_unique<NoopRunnable>());
}

void IsolateEnvironment::RunForegroundTasks() {
  if (foreground_) foreground_->RunDue();
}

size_t IsolateEnvironment::NearHeapLimit(void* data, size_t current, size_t initial) {
  // Stop the script and give V8 room to unwind; the isolate is disposed when the run ends.
  auto* env = static_cast<IsolateEnvironment*>(data);
  env->MarkMemoryLimitHit();
  env->isolate_->TerminateExecution();
  // a run that cannot unwind (a builtin that never checks for termination) is ended with its process
  StuckRunArm(env, "reaching its heap limit (" + std::to_string(env->memory_limit_ >> 20) + " MB, heap " +
                       std::to_string(current >> 20) + " MB)");
  return current + initial + 64 * 1024 * 1024;
}

void IsolateEnvironment::OnOOM(const char* location, const v8::OOMDetails& details) {
  // V8 cannot continue this isolate. Tell the host, then quarantine the thread (a pool thread
  // never returns to V8, which would abort the process); on Node's thread V8 aborts.
  Isolate* isolate = Isolate::GetCurrent();
  EnvPtr env = isolate ? Find(isolate) : nullptr;
  std::string message = std::string("V8 out of memory: ") + (location ? location : "") + (details.detail ? std::string(" (") + details.detail + ")" : "");
  std::fprintf(stderr, "islet: %s\n", message.c_str());
  if (env && env->on_catastrophic_error) env->on_catastrophic_error(message);
  if (env && !env->is_default_ && t_default == nullptr) {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

}  // namespace islet
