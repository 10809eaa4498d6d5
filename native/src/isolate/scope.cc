// ExecScope and the pool of threads that execute queued work of non-default isolates.
#include "isolate/scope.h"

#include <algorithm>
#include <chrono>

#include "isolate/stuck_runs.h"
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

size_t PoolSize() {
  // At least four so that four isolates can compute side by side on small machines.
  return std::max<size_t>(4, std::thread::hardware_concurrency());
}

void RunQueued(const EnvPtr& env) {
  ExecScope scope(*env);
  while (std::unique_ptr<Runnable> task = env->PopQueued()) {
    task->Run();
    if (!env->disposed()) env->isolate()->PerformMicrotaskCheckpoint();
  }
}

void Worker() {
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    while (g_ready.empty()) {
      g_idle++;
      g_pool_wake.wait(lock);
      g_idle--;
    }
    EnvPtr env = std::move(g_ready.front());
    g_ready.pop_front();
    lock.unlock();
    if (env->torn_down()) {
      while (std::unique_ptr<Runnable> task = env->PopQueued()) task->Run();  // they fail: disposed
    } else {
      RunQueued(env);
    }
    env.reset();
    lock.lock();
  }
}

}  // namespace

std::mutex& Scheduler::Mutex() { return g_mutex; }
std::condition_variable& Scheduler::OwnershipChanged() { return g_ownership; }

void Scheduler::Schedule(const EnvPtr& env) {
  // Called with g_mutex held.
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
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

ExecScope* ExecScope::Current() { return t_scope; }

ExecScope::ExecScope(IsolateEnvironment& env) : env_(env), outer_(t_scope) {
  Isolate* isolate = env.isolate();
  same_as_outer_ = outer_ && &outer_->env_ == &env;
  if (!env.is_default()) {
    std::thread::id me = std::this_thread::get_id();
    if (env.owner.load() == me) {
      env.owner_depth++;
    } else {
      std::thread::id none;
      if (!env.owner.compare_exchange_strong(none, me)) {
        // Contended: wait under the scheduler mutex. Node's thread keeps serving blocking
        // requests meanwhile: a pool thread may be waiting for Node while it holds the isolate.
        IsolateEnvironment* node_env = IsolateEnvironment::DefaultOnThisThread();
        std::unique_lock<std::mutex> lock(g_mutex);
        env.waiters++;
        for (;;) {
          none = std::thread::id();
          if (env.owner.compare_exchange_strong(none, me)) break;
          if (node_env && node_env->HasBlocking()) {
            lock.unlock();
            node_env->ServiceBlocking();
            lock.lock();
            continue;
          }
          g_ownership.wait(lock);
        }
        env.waiters--;
      }
      env.owner_depth = 1;
      outermost_ = true;
    }
    locker_.emplace(isolate);
  }
  isolate_scope_.emplace(isolate);
  handle_scope_.emplace(isolate);
  if (outer_ && !same_as_outer_ && !env.is_default()) outer_->PauseCpu();
  t_scope = this;
  // Node's own isolate is not accounted (no Isolate handle reports it): no clock reads there.
  if (!env.is_default()) {
    cpu_start_ = ThreadCpuNs();
    credit_start_ = ThreadStallCreditNs();
    wall_start_ = WallNs();
  }
  if (outermost_) env.ProcessReleases();
}

ExecScope::~ExecScope() {
  if (!env_.is_default() && !same_as_outer_) {
    uint64_t wall = WallNs() - wall_start_;
    // Reading a thread's CPU clock is a system call, the largest cost of a short call. A span
    // this short, never paused, is charged its wall time: a thread cannot use more CPU than
    // the wall time that passed, so this over-charges by at most the span itself if the thread
    // was descheduled in it.
    constexpr uint64_t kShortSpanNs = 20000;
    uint64_t cpu = wall;
    if (wall >= kShortSpanNs || paused_) {
      // A machine stop while this thread ran is on its CPU clock; the watchdog credits the
      // thread for the stops it saw (TimedRun::Finish has let it catch up with a recent one).
      // And a thread cannot use more CPU than the wall time that passed: a larger reading
      // (seen once on this VM, cause not established) is not work, so it is capped.
      cpu = cpu_accum_ + (ThreadCpuNs() - cpu_start_);
      uint64_t credit = credit_accum_ + (ThreadStallCreditNs() - credit_start_);
      cpu = std::min(cpu - std::min(cpu, credit), wall);
    }
    env_.cpu_time_ns += cpu;
    env_.wall_time_ns += wall;
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
  bool teardown = env_.disposed() && !env_.torn_down();
  if (!teardown) {
    env_.owner.store(std::thread::id());
    if (env_.waiters.load() > 0) {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_ownership.notify_all();
    }
    // Disposal requested just as we released: take the isolate back and finish the job.
    std::thread::id none;
    if (env_.disposed() && !env_.torn_down() && env_.owner.compare_exchange_strong(none, std::this_thread::get_id())) teardown = true;
  }
  if (teardown) env_.owner_depth = 1;
  if (teardown) env_.Teardown();
}

// A call back into Node's isolate (a host callback) runs on the calling isolate's behalf, so it
// never pauses that isolate's clock (see the constructor); an isolate entered from inside such a
// callback pauses the clock of the isolate that made the callback, through Node's scope.
void ExecScope::PauseCpu() {
  if (env_.is_default()) {
    if (outer_ && !same_as_outer_) outer_->PauseCpu();
    return;
  }
  if (pause_depth_++ > 0) return;
  paused_ = true;
  cpu_accum_ += ThreadCpuNs() - cpu_start_;
  credit_accum_ += ThreadStallCreditNs() - credit_start_;
}
void ExecScope::ResumeCpu() {
  if (env_.is_default()) {
    if (outer_ && !same_as_outer_) outer_->ResumeCpu();
    return;
  }
  if (--pause_depth_ > 0) return;
  cpu_start_ = ThreadCpuNs();
  credit_start_ = ThreadStallCreditNs();
}

}  // namespace islet
