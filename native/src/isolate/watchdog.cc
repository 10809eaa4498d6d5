// One thread, a list of armed runs, a futex word bumped only when the earliest deadline moves
// earlier. CPU limits are checked against the running thread's CPU clock, minus the machine
// stops credited to that thread: a thread cannot burn CPU faster than wall time passes, so
// sleeping for the remaining CPU budget and checking again never overshoots.
//
// Stall detection. Before each timed sleep the watchdog reads its own run-queue wait (field 2
// of /proc/thread-self/schedstat: time spent runnable but not running); after waking it
// compares how late it is with how much that wait grew. Lateness the guest made it wait for
// (CPU contention) is run-queue wait; lateness the guest never saw is a stop of the machine.
// The watchdog sleeps on a futex rather than a condition variable so that its wake-up time is
// taken before it competes for the mutex: a mutex holder preempted by the guest's scheduler
// would otherwise look like a stop.
#include "isolate/watchdog.h"

#include "isolate/stuck_runs.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include "isolate/scope.h"

namespace islet {

// One per thread that runs armed runs, registered with the watchdog while it has any. Constant
// initialised, so reading it from the thread costs no TLS guard.
struct ThreadClock {
  clockid_t clock = 0;
  bool has_clock = false;
  int armed = 0;              // armed runs on this thread (a nested call arms another)
  uint64_t last_cpu_ns = 0;   // its CPU clock at the watchdog's last pass (under g_mutex)
  uint64_t last_wall_ns = 0;  // when that was read (steady clock)
  std::atomic<uint64_t> credit_ns{0};
};

namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC in libstdc++, as FUTEX_WAIT_BITSET
constexpr auto kGrace = std::chrono::milliseconds(100);
// While a limited run goes on, its memory outside the V8 heap is checked this often (the heap
// itself has V8's near-heap-limit callback; WebAssembly memory has nothing of the kind).
constexpr auto kMemoryCheck = std::chrono::milliseconds(10);
// While anything is armed the watchdog wakes at least this often. It bounds both the shortest
// stop that is sure to be seen and how much of a stop goes uncredited (the part before the
// planned wake-up looks like ordinary sleep).
constexpr auto kProbe = std::chrono::milliseconds(4);
// How long the watchdog keeps ticking after the last run was armed. A server makes many short
// runs a second, most over before the watchdog could look at them: were it to sleep without a
// deadline whenever none is armed, nearly every run would have to wake it (a system call on the
// serving thread and a context switch). Ticking through busy periods, it is already due sooner
// than any new run's first deadline, so arming one wakes nobody; an idle process still sleeps.
constexpr auto kLinger = std::chrono::seconds(1);
// Lateness beyond the run-queue wait above which a wake-up counts as a stop. Measured on this
// VM: the unexplained part stays under 0.3 ms, idle or with both cores saturated.
constexpr uint64_t kStallThresholdNs = 2000000;
// A run that used more CPU than this may contain a stop the watchdog has not processed yet...
constexpr uint64_t kLongRunNs = 3000000;
// ...when the watchdog's pass is this much overdue; then Finish waits at most kPassWait for it.
constexpr auto kOverdue = std::chrono::milliseconds(1);
constexpr auto kPassWait = std::chrono::milliseconds(5);

thread_local ThreadClock t_clock;

struct Armed {
  IsolateEnvironment* env;
  ThreadClock* thread;
  uint64_t token;
  Clock::time_point wall_deadline;  // max() when none
  uint64_t cpu_start_ns;
  uint64_t wall_start_ns;
  uint64_t cpu_budget_ns;  // 0 when none
  uint64_t credit_at_arm_ns;
  Clock::time_point next_check;
  Clock::time_point next_memory_check;
  TimerKind fired = TimerKind::None;
  bool forced = false;
};

struct InterruptData {
  IsolateEnvironment* env;
  uint64_t token;
};

// Never destroyed: the watchdog thread and waiting runs use these while the process exits.
std::mutex& g_mutex = *new std::mutex;
std::condition_variable& g_pass_done = *new std::condition_variable;
std::map<uint64_t, Armed>& g_armed = *new std::map<uint64_t, Armed>;
std::vector<ThreadClock*>& g_threads = *new std::vector<ThreadClock*>;
uint64_t g_next_id = 1;
Clock::time_point g_earliest = Clock::time_point::max();  // the watchdog's planned wake-up
Clock::time_point g_last_armed;                           // when a run was last armed
uint64_t g_passes = 0;
int g_pass_waiters = 0;
bool g_started = false;
std::atomic<uint32_t> g_wake_word{0};  // bumped to wake the watchdog early

std::atomic<uint64_t> g_stall_count{0};
std::atomic<uint64_t> g_stall_total_ns{0};
std::atomic<uint64_t> g_credited_ns{0};

uint64_t CpuNow(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t Ns(Clock::duration d) { return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); }

// The calling thread's run-queue wait, read from a file kept open (pread regenerates it).
class RunQueueWait {
 public:
  RunQueueWait() : fd_(open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) {}
  ~RunQueueWait() {
    if (fd_ >= 0) close(fd_);
  }
  bool Read(uint64_t* wait_ns) const {
    if (fd_ < 0) return false;
    char buf[128];
    ssize_t n = pread(fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return false;
    buf[n] = 0;
    unsigned long long running, waiting;
    if (sscanf(buf, "%llu %llu", &running, &waiting) != 2) return false;
    *wait_ns = waiting;
    return true;
  }

 private:
  int fd_;
};

bool DetectionAvailable() {
  static const bool available = [] {
    uint64_t wait;
    return RunQueueWait().Read(&wait);
  }();
  return available;
}

// Sleeps until `until` (max(): no time limit), or until g_wake_word no longer holds `seen`.
void SleepUntil(uint32_t seen, Clock::time_point until) {
  timespec ts{};
  timespec* timeout = nullptr;
  if (until != Clock::time_point::max()) {
    uint64_t ns = Ns(until.time_since_epoch());
    ts.tv_sec = time_t(ns / 1000000000ull);
    ts.tv_nsec = long(ns % 1000000000ull);
    timeout = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_wake_word), FUTEX_WAIT_BITSET_PRIVATE, seen, timeout, nullptr,
          FUTEX_BITSET_MATCH_ANY);
}

void WakeWatchdog() {
  g_wake_word.fetch_add(1);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_wake_word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void OnInterrupt(Isolate* isolate, void* raw) {
  std::unique_ptr<InterruptData> data(static_cast<InterruptData*>(raw));
  if (data->env->timer_token.load() != data->token) return;  // that run already ended
  data->env->timer_stack = FormatStackFrames(isolate, v8::StackTrace::CurrentStackTrace(isolate, 8));
  isolate->TerminateExecution();
}

void OnMemoryCheck(Isolate* isolate, void* raw) {
  auto* env = static_cast<IsolateEnvironment*>(raw);
  if (env->disposed() || !env->ExternalMemoryOverLimit()) return;
  env->MarkMemoryLimitHit();
  isolate->TerminateExecution();
}

void Fire(Armed& armed, TimerKind kind) {
  armed.fired = kind;
  armed.env->timer_fired = static_cast<int>(kind);
  armed.env->isolate()->RequestInterrupt(OnInterrupt, new InterruptData{armed.env, armed.token});
  armed.next_check = Clock::now() + kGrace;
}

// CPU the run's thread used since arming, less the stops credited to it meanwhile, and never
// more than the wall time since arming (more is the scheduler's clock jumping, not work).
uint64_t ChargedCpu(const Armed& armed) {
  uint64_t last = armed.thread->last_cpu_ns;
  uint64_t used = last > armed.cpu_start_ns ? last - armed.cpu_start_ns : 0;
  uint64_t credit = armed.thread->credit_ns.load(std::memory_order_relaxed) - armed.credit_at_arm_ns;
  uint64_t wall =
      armed.thread->last_wall_ns > armed.wall_start_ns ? armed.thread->last_wall_ns - armed.wall_start_ns : 0;
  return std::min(used - std::min(used, credit), wall);
}

// Records a stop and credits each thread with armed runs for the part of it that its CPU
// clock absorbed. Since the thread's clock was last read, `interval` of wall time passed, of
// which `stall_ns` was the stop: outside the stop the thread can have used at most
// interval - stall of real CPU, so only an advance beyond that can be the stop. A thread that
// slept or waited for a CPU through the stop gets nothing; one that ran through it gets the
// stop, short by at most the time it sat idle outside it (an error towards charging more).
void ReadThreadClocks(uint64_t stall_ns) {
  if (stall_ns) {
    g_stall_count.fetch_add(1, std::memory_order_relaxed);
    g_stall_total_ns.fetch_add(stall_ns, std::memory_order_relaxed);
  }
  for (ThreadClock* thread : g_threads) {
    uint64_t cpu = CpuNow(thread->clock);
    uint64_t wall = WallNs();
    if (stall_ns) {
      uint64_t advanced = cpu > thread->last_cpu_ns ? cpu - thread->last_cpu_ns : 0;
      uint64_t interval = wall > thread->last_wall_ns ? wall - thread->last_wall_ns : 0;
      uint64_t outside = interval > stall_ns ? interval - stall_ns : 0;
      uint64_t credit = std::min(stall_ns, advanced - std::min(advanced, outside));
      thread->credit_ns.fetch_add(credit, std::memory_order_relaxed);
      g_credited_ns.fetch_add(credit, std::memory_order_relaxed);
    }
    thread->last_cpu_ns = cpu;
    thread->last_wall_ns = wall;
  }
}

// One pass over the armed runs (g_mutex held); sets g_earliest to the next wake-up.
void Pass(uint64_t stall_ns) {
  ReadThreadClocks(stall_ns);
  auto now = Clock::now();
  bool busy = !g_armed.empty() || now - g_last_armed < kLinger;
  auto earliest = busy ? now + kProbe : Clock::time_point::max();
  for (auto& [id, armed] : g_armed) {
    if (armed.fired != TimerKind::None) {
      if (!armed.forced && now >= armed.next_check) {
        armed.forced = true;  // grace over: the isolate did not reach an interrupt check
        armed.env->isolate()->TerminateExecution();
        // a builtin that never checks for termination may hold the thread long after this
        StuckRunArm(armed.env, "its time limit");
      }
      if (!armed.forced) earliest = std::min(earliest, armed.next_check);
      continue;
    }
    if (now >= armed.next_memory_check) {
      armed.env->isolate()->RequestInterrupt(OnMemoryCheck, armed.env);
      armed.next_memory_check = now + kMemoryCheck;
    }
    earliest = std::min(earliest, armed.next_memory_check);
    if (now >= armed.wall_deadline) {
      Fire(armed, TimerKind::Wall);
    } else if (armed.cpu_budget_ns && now >= armed.next_check) {
      uint64_t charged = ChargedCpu(armed);
      if (charged >= armed.cpu_budget_ns) {
        Fire(armed, TimerKind::Cpu);
      } else {
        armed.next_check = now + std::chrono::nanoseconds(std::max<uint64_t>(armed.cpu_budget_ns - charged, 200000));
      }
    }
    earliest = std::min(earliest, armed.fired != TimerKind::None
                                      ? armed.next_check
                                      : std::min(armed.wall_deadline,
                                                 armed.cpu_budget_ns ? armed.next_check : Clock::time_point::max()));
  }
  g_earliest = earliest;
}

void Loop() {
  RunQueueWait queue_wait;
  bool detecting = DetectionAvailable();
  uint64_t stall_ns = 0;
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    Pass(stall_ns);
    g_passes++;
    if (g_pass_waiters) g_pass_done.notify_all();
    Clock::time_point planned = g_earliest;
    uint32_t seen = g_wake_word.load();
    lock.unlock();

    bool timed = detecting && planned != Clock::time_point::max();
    uint64_t wait_before = 0, wait_after = 0;
    if (timed) timed = queue_wait.Read(&wait_before);
    SleepUntil(seen, planned);
    Clock::time_point woke = Clock::now();
    stall_ns = 0;
    if (timed && woke > planned && Ns(woke - planned) > kStallThresholdNs && queue_wait.Read(&wait_after)) {
      uint64_t late = Ns(woke - planned);
      uint64_t queued = wait_after > wait_before ? wait_after - wait_before : 0;
      if (late > queued + kStallThresholdNs) stall_ns = late - queued;
    }
    lock.lock();
  }
}

// A stop that ended just now may not be in the ledger yet: the thread that was charged for it
// can reach the end of its run before the watchdog, late too, has had its pass. Called with
// g_mutex held by a run that used enough CPU to contain a stop.
void AwaitOverduePass(std::unique_lock<std::mutex>& lock) {
  if (g_earliest == Clock::time_point::max() || Clock::now() < g_earliest + kOverdue) return;
  uint64_t pass = g_passes;
  g_pass_waiters++;
  g_pass_done.wait_for(lock, kPassWait, [&] { return g_passes != pass; });
  g_pass_waiters--;
}

void MachineStalls(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Local<Context> context = isolate->GetCurrentContext();
  StallLedger ledger = ReadStallLedger();
  Local<Object> out = Object::New(isolate);
  out->Set(context, V8Symbol(isolate, "detecting"), v8::Boolean::New(isolate, ledger.detecting)).Check();
  out->Set(context, V8Symbol(isolate, "count"), v8::Number::New(isolate, double(ledger.count))).Check();
  out->Set(context, V8Symbol(isolate, "totalNs"), v8::Number::New(isolate, double(ledger.total_ns))).Check();
  out->Set(context, V8Symbol(isolate, "creditedNs"), v8::Number::New(isolate, double(ledger.credited_ns))).Check();
  info.GetReturnValue().Set(out);
}

}  // namespace

TimedRun::TimedRun(IsolateEnvironment& env, double wall_ms, double cpu_ms) : env_(env) {
  if (wall_ms <= 0 && cpu_ms <= 0) return;
  ThreadClock& thread = t_clock;
  if (!thread.has_clock) {
    pthread_getcpuclockid(pthread_self(), &thread.clock);
    thread.has_clock = true;
  }
  thread_ = &thread;
  // The scope running this call read the thread's CPU clock on entry a moment ago: reuse it
  // rather than make the system call again (the budget then also covers copying the arguments in).
  ExecScope* scope = ExecScope::Current();
  armed_cpu_ns_ = scope && &scope->env() == &env && scope->cpu_start() ? scope->cpu_start() : ThreadCpuNs();
  auto now = Clock::now();
  armed_wall_ns_ = Ns(now.time_since_epoch());
  Armed armed{};
  armed.env = &env;
  armed.thread = &thread;
  armed.next_memory_check = now + kMemoryCheck;
  armed.wall_deadline =
      wall_ms > 0 ? now + std::chrono::microseconds(int64_t(wall_ms * 1000)) : Clock::time_point::max();
  armed.cpu_start_ns = armed_cpu_ns_;
  armed.wall_start_ns = armed_wall_ns_;
  if (cpu_ms > 0) {
    armed.cpu_budget_ns = uint64_t(cpu_ms * 1e6);
    armed.next_check = now + std::chrono::microseconds(int64_t(cpu_ms * 1000));
  }
  previous_token_ = env.timer_token.load();
  // The run's deadline bounds how much code it may generate from strings (limits.cc).
  previous_deadline_ns_ = env.run_deadline_ns.load();
  uint64_t deadline_ns =
      armed_wall_ns_ +
      uint64_t(std::min(wall_ms > 0 ? wall_ms : kMaxTimeoutMs, cpu_ms > 0 ? cpu_ms : kMaxTimeoutMs) * 1e6);
  if (!previous_deadline_ns_ || deadline_ns < previous_deadline_ns_) env.run_deadline_ns = deadline_ns;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (thread.armed++ == 0) {
      thread.last_cpu_ns = armed_cpu_ns_;
      thread.last_wall_ns = armed_wall_ns_;
      g_threads.push_back(&thread);
    }
    armed.credit_at_arm_ns = thread.credit_ns.load(std::memory_order_relaxed);
    token_ = g_next_id;  // tokens and ids share one counter: unique per run
    armed.token = token_;
    env.timer_token = token_;
    env.timer_fired = 0;
    id_ = g_next_id++;
    Clock::time_point first =
        std::min({armed.wall_deadline, armed.cpu_budget_ns ? armed.next_check : Clock::time_point::max(),
                  armed.next_memory_check});
    g_armed.emplace(id_, armed);
    g_last_armed = now;
    finished_ = false;
    if (!g_started) {
      g_started = true;
      std::thread(Loop).detach();
    }
    if (first < g_earliest) {
      g_earliest = first;
      wake = true;
    }
  }
  if (wake) WakeWatchdog();
}

TimedRun::~TimedRun() { Finish(); }

TimerKind TimedRun::Finish() {
  if (finished_) return fired_;
  finished_ = true;
  // Two cheap clock reads decide whether this run could contain a stop; only then is the lock
  // held a little longer. CPU cannot exceed wall time, so the wall test comes first.
  bool long_run =
      WallNs() - armed_wall_ns_ > kLongRunNs && ThreadCpuNs() - armed_cpu_ns_ > kLongRunNs && DetectionAvailable();
  {
    std::unique_lock<std::mutex> lock(g_mutex);
    if (long_run) AwaitOverduePass(lock);
    auto it = g_armed.find(id_);
    fired_ = it->second.fired;
    g_armed.erase(it);
    if (--thread_->armed == 0) g_threads.erase(std::find(g_threads.begin(), g_threads.end(), thread_));
    env_.timer_token = previous_token_;
  }
  env_.run_deadline_ns = previous_deadline_ns_;
  // The deadline may have fired just as the script finished: never let it leak into the next run.
  if (fired_ != TimerKind::None) env_.isolate()->CancelTerminateExecution();
  return fired_;
}

uint64_t ThreadStallCreditNs() { return t_clock.credit_ns.load(std::memory_order_relaxed); }

StallLedger ReadStallLedger() {
  StallLedger ledger;
  ledger.detecting = DetectionAvailable();
  ledger.count = g_stall_count.load(std::memory_order_relaxed);
  ledger.total_ns = g_stall_total_ns.load(std::memory_order_relaxed);
  ledger.credited_ns = g_credited_ns.load(std::memory_order_relaxed);
  return ledger;
}

void ExportMachineStalls(Isolate* isolate, Local<Context> context, Local<Object> exports) {
  Local<Function> fn = v8::Function::New(context, MachineStalls).ToLocalChecked();
  exports->Set(context, V8Symbol(isolate, "machineStalls"), fn).Check();
}

}  // namespace islet
