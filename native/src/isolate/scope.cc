// ExecScope and the pool of threads that execute queued work of non-default isolates.
#include "isolate/scope.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "isolate/stuck_runs.h"
#include "isolate/task.h"
#include "isolate/watchdog.h"

namespace islet {
namespace {

thread_local ExecScope* t_scope = nullptr;

// Never destroyed: pool threads may still wait on these while the process exits (destroying a
// condition variable with waiters hangs in glibc).
std::mutex& g_mutex = *new std::mutex;
std::condition_variable& g_ownership = *new std::condition_variable;
std::condition_variable& g_pool_wake = *new std::condition_variable;
std::deque<EnvPtr>& g_ready = *new std::deque<EnvPtr>;
size_t g_threads = 0;
size_t g_idle = 0;
size_t g_busy = 0;
std::atomic<bool> g_frozen{false};

size_t PoolSize() {
  // At least four so that four isolates can compute side by side on small machines.
  return std::max<size_t>(4, std::thread::hardware_concurrency());
}

clockid_t ThreadClockId() {
  thread_local clockid_t clock = [] {
    clockid_t id = CLOCK_THREAD_CPUTIME_ID;
    pthread_getcpuclockid(pthread_self(), &id);
    return id;
  }();
  return clock;
}

void RunQueued(const EnvPtr& env) {
  try {
    ExecScope scope(*env);
    while (!g_frozen.load()) {
      std::unique_ptr<Runnable> task = env->PopQueued();
      if (!task) break;
      task->Run();
      task.reset();
      // What the task's promise jobs post (a settled proxy) must be queued before the task
      // stops holding Node's loop.
      if (!env->disposed()) env->isolate()->PerformMicrotaskCheckpoint();
      env->TaskDone();
    }
  } catch (const ThrownValue&) {
    // Torn down: what is still queued fails here (its tasks check for that).
    while (std::unique_ptr<Runnable> task = env->PopQueued()) {
      task->Run();
      task.reset();
      env->TaskDone();
    }
  }
}

void Worker() {
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    while (g_ready.empty() || g_frozen.load()) {
      g_idle++;
      g_pool_wake.wait(lock);
      g_idle--;
    }
    EnvPtr env = std::move(g_ready.front());
    g_ready.pop_front();
    g_busy++;
    lock.unlock();
    RunQueued(env);
    env.reset();
    lock.lock();
    if (--g_busy == 0) g_ownership.notify_all();  // a Node environment shutting down waits for it
  }
}

}  // namespace

std::mutex& Scheduler::Mutex() { return g_mutex; }
std::condition_variable& Scheduler::OwnershipChanged() { return g_ownership; }
void Scheduler::Freeze() { g_frozen = true; }
void Scheduler::ThreadLost() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_threads--;  // a new thread may replace it
  if (--g_busy == 0) g_ownership.notify_all();
}
bool Scheduler::Frozen() { return g_frozen.load(); }
size_t Scheduler::Busy() { return g_busy; }

void Scheduler::Schedule(const EnvPtr& env) {
  g_ready.push_back(env);
  if (g_idle == 0 && g_threads < PoolSize()) {
    g_threads++;
    std::thread(Worker).detach();
  } else {
    g_pool_wake.notify_one();
  }
}

uint64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t WallNs() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

ExecScope* ExecScope::Current() { return t_scope; }

ExecScope::ExecScope(IsolateEnvironment& env) : env_(env), outer_(t_scope) {
  Isolate* isolate = env.isolate();
  same_as_outer_ = outer_ && &outer_->env_ == &env;
  if (!env.is_default()) {
    Acquire();
    locker_.emplace(isolate);
  }
  isolate_scope_.emplace(isolate);
  handle_scope_.emplace(isolate);
  if (outer_ && !same_as_outer_ && !env.is_default()) outer_->PauseCpu();
  t_scope = this;
  // Node's own isolate is not accounted (no Isolate handle reports it): no clock reads there.
  accounted_ = !env.is_default() && !same_as_outer_;
  if (accounted_) {
    StartSpan();
    if (outermost_) wall_start_ = span_wall_start_;
    env.clock.Start(ThreadClockId(), cpu_start_, wall_start_);
  }
  if (outermost_) env.ProcessReleases();
}

void ExecScope::Acquire() {
  uint64_t me = ThreadToken();
  if (env_.owner.load() == me) {
    env_.owner_depth++;
    return;
  }
  uint64_t expected = IsolateEnvironment::kFree;
  if (!env_.owner.compare_exchange_strong(expected, me)) {
    if (expected == IsolateEnvironment::kTornDown || env_.torn_down()) throw DisposedError();
    // Contended: wait under the scheduler mutex. Node's thread keeps serving blocking
    // requests meanwhile: a pool thread may be waiting for Node while it holds the isolate.
    IsolateEnvironment* node_env = IsolateEnvironment::DefaultOnThisThread();
    std::unique_lock<std::mutex> lock(g_mutex);
    env_.waiters++;
    for (;;) {
      expected = IsolateEnvironment::kFree;
      if (env_.owner.compare_exchange_strong(expected, me)) break;
      if (expected == IsolateEnvironment::kTornDown || env_.torn_down()) {  // torn down, or lost
        env_.waiters--;
        throw DisposedError();
      }
      if (node_env && env_.awaiting_host.load()) {
        env_.waiters--;
        throw MakeThrown(
            ErrorClass::Error,
            "The isolate is waiting for Node in applySyncPromise: Node's thread cannot wait for it (that would "
            "never end); use an async call",
            "ERR_ISOLATE_DEADLOCK");
      }
      if (node_env && node_env->HasBlocking()) {
        lock.unlock();
        node_env->ServiceBlocking();
        lock.lock();
        continue;
      }
      g_ownership.wait(lock);
    }
    env_.waiters--;
  }
  env_.owner_depth = 1;
  outermost_ = true;
  if (env_.disposed()) {
    // Disposal was requested while someone else held it, or just now: the isolate is ours and
    // idle, so finish the job rather than run anything in it.
    env_.Teardown();
    throw DisposedError();
  }
}

void ExecScope::StartSpan() {
  cpu_start_ = ThreadCpuNs();
  credit_start_ = ThreadStallCreditNs();
  span_wall_start_ = WallNs();
}

uint64_t ExecScope::EndSpan(bool final, uint64_t now) {
  uint64_t wall = now - span_wall_start_;
  // Reading a thread's CPU clock is a system call, the largest cost of a short call. A span
  // this short is charged its wall time: a thread cannot use more CPU than the wall time that
  // passed, so this over-charges by at most the span itself if the thread was descheduled.
  constexpr uint64_t kShortSpanNs = 20000;
  uint64_t cpu = wall;
  if (wall >= kShortSpanNs || !final) {
    // A machine stop while this thread ran is on its CPU clock; the watchdog credits the
    // thread for the stops it saw (TimedRun::Finish has let it catch up with a recent one).
    // And a thread cannot use more CPU than the wall time that passed: a larger reading
    // (seen once on this VM, cause not established) is not work, so it is capped.
    uint64_t used = ThreadCpuNs() - cpu_start_;
    uint64_t credit = ThreadStallCreditNs() - credit_start_;
    cpu = std::min(used - std::min(used, credit), wall);
  }
  return cpu;
}

ExecScope::~ExecScope() {
  if (accounted_) {
    uint64_t now = WallNs();
    uint64_t cpu = paused_ ? 0 : EndSpan(true, now);
    env_.clock.Stop(cpu, outermost_ ? now - wall_start_ : 0, outermost_);
  }
  // the run is over: an isolate asked to stop in it (heap or time limit) did stop
  if (outermost_ && !env_.is_default()) StuckRunDisarm(&env_);
  if (outermost_ && !env_.disposed()) {
    // V8's own follow-up work (GC jobs, compile finalisation) runs on a pool thread: a sync
    // call made on Node's thread returns as soon as its own work is done.
    if (IsolateEnvironment::DefaultOnThisThread()) {
      env_.ScheduleForegroundTasks();
    } else {
      env_.RunForegroundTasks();
    }
    env_.ProcessReleases();
  }
  handle_scope_.reset();
  isolate_scope_.reset();
  locker_.reset();
  t_scope = outer_;
  if (outer_ && !same_as_outer_ && !env_.is_default()) outer_->ResumeCpu();
  if (env_.is_default()) return;
  if (--env_.owner_depth > 0) return;
  Release();
}

void ExecScope::Release() {
  if (env_.disposed()) {
    env_.owner_depth = 1;
    env_.Teardown();
    return;
  }
  env_.owner.store(IsolateEnvironment::kFree);
  if (env_.waiters.load() > 0) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_ownership.notify_all();
  }
  // Disposal requested just as we released: take the isolate back and finish the job (unless
  // a waiter took it first; it then sees the request itself).
  uint64_t expected = IsolateEnvironment::kFree;
  if (env_.disposed() && env_.owner.compare_exchange_strong(expected, ThreadToken())) {
    env_.owner_depth = 1;
    env_.Teardown();
  }
}

// A call back into Node's isolate (a host callback) runs on the calling isolate's behalf, so it
// never pauses that isolate's clock (see the constructor); an isolate entered from inside such a
// callback pauses the clock of the isolate that made the callback, through Node's scope. A scope
// that counts nothing itself (Node's, or a re-entry of the same isolate) passes the pause on to
// the scope that does; the depth keeps nested pauses from counting twice.
void ExecScope::PauseCpu() {
  if (!accounted_) {
    if (outer_) outer_->PauseCpu();
    return;
  }
  if (pause_depth_++ > 0) return;
  env_.clock.Stop(EndSpan(false, WallNs()), 0, false);
  paused_ = true;
}

void ExecScope::ResumeCpu() {
  if (!accounted_) {
    if (outer_) outer_->ResumeCpu();
    return;
  }
  if (pause_depth_ == 0 || --pause_depth_ > 0) return;
  paused_ = false;
  StartSpan();
  env_.clock.Start(ThreadClockId(), cpu_start_, 0);
}

}  // namespace islet
