// Node's own isolates (the main thread and each worker_thread that loads the addon) as
// environments: work posted to them runs on their thread from a uv_async handle; pool threads
// that need them synchronously queue a blocking request; they keep their loop alive while work
// they started is pending; and when they go away they take the isolates they created with them.
#include <chrono>

#include "isolate/environment.h"
#include "isolate/scope.h"

namespace islet {
namespace {

thread_local IsolateEnvironment* t_default = nullptr;
// Node environments this addon was loaded in: never freed (handles may point at them while
// Node shuts down).
std::vector<EnvPtr>& g_defaults = *new std::vector<EnvPtr>;
std::mutex& g_defaults_mutex = *new std::mutex;

// How long a Node environment going away waits for pool threads to leave its isolates.
constexpr auto kShutdownWait = std::chrono::seconds(2);

}  // namespace

IsolateEnvironment* IsolateEnvironment::DefaultOnThisThread() { return t_default; }

EnvPtr IsolateEnvironment::CreateDefault(Isolate* isolate, Local<Context> context) {
  EnvPtr env(new IsolateEnvironment());
  env->isolate_ = isolate;
  env->is_default_ = true;
  env->thread_ = std::this_thread::get_id();
  env->default_context.Reset(isolate, context);
  if (!g_platform) g_platform = node::GetMultiIsolatePlatform(node::GetCurrentEnvironment(context));
  uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
  env->async_ = new uv_async_t;
  uv_async_init(loop, env->async_, OnAsync);
  env->async_->data = env.get();
  uv_unref(reinterpret_cast<uv_handle_t*>(env->async_));
  t_default = env.get();
  RegisterEnvironment(isolate, env);
  {
    std::lock_guard<std::mutex> lock(g_defaults_mutex);
    g_defaults.push_back(env);
  }
  node::AddEnvironmentCleanupHook(
      isolate,
      [](void* data) {
        auto* raw = static_cast<IsolateEnvironment*>(data);
        // A worker_thread's isolates die with it; at process exit they are only stopped.
        bool worker = uv_default_loop() != node::GetCurrentEventLoop(raw->isolate_);
        raw->Shutdown(worker);
        raw->disposed_ = true;
        raw->default_context.Reset();
        {
          std::lock_guard<std::mutex> lock(Scheduler::Mutex());
          uv_close(reinterpret_cast<uv_handle_t*>(raw->async_),
                   [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
          raw->async_ = nullptr;
        }
        {
          std::lock_guard<std::mutex> lock(raw->release_mutex_);
          raw->torn_down_ = true;
        }
        UnregisterEnvironment(raw->isolate_);
        if (t_default == raw) t_default = nullptr;
      },
      env.get());
  return env;
}

bool IsolateEnvironment::RunBlocking(Runnable& task) {
  std::unique_lock<std::mutex> lock(Scheduler::Mutex());
  if (!async_ || shutting_down_) return false;
  Blocking request{&task};
  blocking_.push_back(&request);
  uv_async_send(async_);
  Scheduler::OwnershipChanged().notify_all();
  Scheduler::OwnershipChanged().wait(lock, [&] { return request.done; });
  return request.ran;
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
    request->ran = true;
    request->done = true;
    Scheduler::OwnershipChanged().notify_all();
  }
}

void IsolateEnvironment::OnAsync(uv_async_t* handle) {
  auto* env = static_cast<IsolateEnvironment*>(handle->data);
  Isolate* isolate = env->isolate_;
  HandleScope handles(isolate);
  Local<Context> context = env->default_context.Get(isolate);
  Context::Scope context_scope(context);
  env->ProcessReleases();
  {
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
  }
  std::lock_guard<std::mutex> lock(Scheduler::Mutex());
  bool pending = !env->blocking_.empty() || !env->queue_.empty();
  // Work already queued for Node keeps the loop alive until it has run: a wake-up sent to an
  // unreferenced handle is lost when the loop finds nothing else to wait for.
  env->UpdateLoopRef(pending);
  if (pending && env->async_) uv_async_send(env->async_);
}

void IsolateEnvironment::RefLoop() {
  async_refs_++;
  UpdateLoopRef(true);
}

void IsolateEnvironment::UnrefLoop() {
  async_refs_--;
  std::lock_guard<std::mutex> lock(Scheduler::Mutex());
  UpdateLoopRef(!blocking_.empty() || !queue_.empty());
}

void IsolateEnvironment::AddRemoteRef() {
  // Called with the scheduler mutex held (by Post), which also keeps async_ from closing.
  if (remote_refs_.fetch_add(1) != 0) return;
  if (std::this_thread::get_id() == thread_) {
    UpdateLoopRef(true);
  } else if (async_) {
    uv_async_send(async_);
  }
}

void IsolateEnvironment::ReleaseRemoteRef() {
  if (remote_refs_.fetch_sub(1) != 1) return;
  std::lock_guard<std::mutex> lock(Scheduler::Mutex());
  if (std::this_thread::get_id() == thread_) {
    UpdateLoopRef(!blocking_.empty() || !queue_.empty());
  } else if (async_) {
    uv_async_send(async_);
  }
}

void IsolateEnvironment::UpdateLoopRef(bool queued) {
  // Node's thread only: uv_ref / uv_unref are not thread-safe.
  if (!async_) return;
  bool want = queued || async_refs_ > 0 || remote_refs_.load() > 0;
  if (want == loop_refd_) return;
  loop_refd_ = want;
  if (want) {
    uv_ref(reinterpret_cast<uv_handle_t*>(async_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  }
}

void IsolateEnvironment::Shutdown(bool dispose_owned) {
  if (!is_default_) return;
  bool first = !shutting_down_.exchange(true);
  if (first) {
    // Pool threads waiting for this thread would wait forever: fail their requests.
    std::lock_guard<std::mutex> lock(Scheduler::Mutex());
    for (Blocking* request : blocking_) request->done = true;
    blocking_.clear();
    Scheduler::OwnershipChanged().notify_all();
  }
  CancelAll();
  if (!dispose_owned && uv_default_loop() == node::GetCurrentEventLoop(isolate_)) {
    // The process is exiting: pool threads take no more work (Node's platform goes away next).
    Scheduler::Freeze();
  }
  std::vector<EnvPtr> owned;
  {
    std::lock_guard<std::mutex> lock(owned_mutex_);
    for (auto& weak : owned_) {
      if (EnvPtr env = weak.lock()) owned.push_back(std::move(env));
    }
  }
  for (auto& env : owned) {
    if (dispose_owned) {
      env->Dispose();
    } else {
      std::lock_guard<std::mutex> lock(env->lifetime_mutex_);
      uint64_t holder = env->owner.load();
      if (!env->torn_down_ && holder != kFree && holder != ThreadToken()) env->isolate_->TerminateExecution();
    }
  }
  // Wait (bounded) until no other thread is inside any of them (at process exit: until no
  // pool thread is inside any isolate at all).
  bool exiting = Scheduler::Frozen();
  auto deadline = std::chrono::steady_clock::now() + kShutdownWait;
  std::unique_lock<std::mutex> lock(Scheduler::Mutex());
  for (;;) {
    bool busy = exiting && Scheduler::Busy() > 0;
    for (auto& env : owned) {
      uint64_t holder = env->owner.load();
      if (holder != kFree && holder != kTornDown && holder != ThreadToken()) busy = true;
    }
    if (!busy) break;
    if (Scheduler::OwnershipChanged().wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  (void)first;
}

}  // namespace islet
