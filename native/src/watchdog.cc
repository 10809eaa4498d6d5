// One thread, a list of armed runs, a condition variable woken only when the earliest deadline
// moves earlier. CPU limits are checked against the running thread's CPU clock: a thread cannot
// burn CPU faster than wall time passes, so sleeping for the remaining CPU budget and checking
// again never overshoots.
#include "watchdog.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <sstream>

#include "scope.h"

namespace islet {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kGrace = std::chrono::milliseconds(5);
// While a limited run goes on, its memory outside the V8 heap is checked this often (the heap
// itself has V8's near-heap-limit callback; WebAssembly memory has nothing of the kind).
constexpr auto kMemoryCheck = std::chrono::milliseconds(10);

struct Armed {
  IsolateEnvironment* env;
  uint64_t token;
  Clock::time_point wall_deadline;  // max() when none
  clockid_t cpu_clock;
  uint64_t cpu_deadline_ns;  // 0 when none
  Clock::time_point next_check;
  Clock::time_point next_memory_check;
  TimerKind fired = TimerKind::None;
  bool forced = false;
};

struct InterruptData {
  IsolateEnvironment* env;
  uint64_t token;
};

// Never destroyed: the watchdog thread waits on these while the process exits.
std::mutex& g_mutex = *new std::mutex;
std::condition_variable& g_wake = *new std::condition_variable;
std::map<uint64_t, Armed>& g_armed = *new std::map<uint64_t, Armed>;
uint64_t g_next_id = 1;
Clock::time_point g_earliest = Clock::time_point::max();
bool g_started = false;

uint64_t CpuNow(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::string FormatStack(Isolate* isolate) {
  std::ostringstream out;
  Local<v8::StackTrace> trace = v8::StackTrace::CurrentStackTrace(isolate, 8);
  for (int i = 0; i < trace->GetFrameCount(); ++i) {
    Local<v8::StackFrame> frame = trace->GetFrame(isolate, i);
    std::string fn = ToUtf8(isolate, frame->GetFunctionName());
    std::string file = ToUtf8(isolate, frame->GetScriptNameOrSourceURL());
    if (file.empty() || file == "undefined") file = "<anonymous>";
    if (i) out << "\n";
    out << "    at ";
    if (!fn.empty() && fn != "undefined") out << fn << " (";
    out << file << ":" << frame->GetLineNumber() << ":" << frame->GetColumn();
    if (!fn.empty() && fn != "undefined") out << ")";
  }
  return out.str();
}

void OnInterrupt(Isolate* isolate, void* raw) {
  std::unique_ptr<InterruptData> data(static_cast<InterruptData*>(raw));
  if (data->env->timer_token.load() != data->token) return;  // that run already ended
  data->env->timer_stack = FormatStack(isolate);
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

void Loop() {
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    auto now = Clock::now();
    auto earliest = Clock::time_point::max();
    for (auto& [id, armed] : g_armed) {
      if (armed.fired != TimerKind::None) {
        if (!armed.forced && now >= armed.next_check) {
          armed.forced = true;  // grace over: the isolate did not reach an interrupt check
          armed.env->isolate()->TerminateExecution();
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
      } else if (armed.cpu_deadline_ns && now >= armed.next_check) {
        uint64_t used = CpuNow(armed.cpu_clock);
        if (used >= armed.cpu_deadline_ns) {
          Fire(armed, TimerKind::Cpu);
        } else {
          armed.next_check = now + std::chrono::nanoseconds(std::max<uint64_t>(armed.cpu_deadline_ns - used, 200000));
        }
      }
      earliest = std::min(earliest, armed.fired != TimerKind::None ? armed.next_check : std::min(armed.wall_deadline, armed.cpu_deadline_ns ? armed.next_check : Clock::time_point::max()));
    }
    g_earliest = earliest;
    if (earliest == Clock::time_point::max()) {
      g_wake.wait(lock);
    } else {
      g_wake.wait_until(lock, earliest);
    }
  }
}

}  // namespace

TimedRun::TimedRun(IsolateEnvironment& env, double wall_ms, double cpu_ms) : env_(env) {
  if (wall_ms <= 0 && cpu_ms <= 0) return;
  auto now = Clock::now();
  Armed armed{};
  armed.env = &env;
  armed.next_memory_check = now + kMemoryCheck;
  armed.wall_deadline = wall_ms > 0 ? now + std::chrono::microseconds(int64_t(wall_ms * 1000)) : Clock::time_point::max();
  if (cpu_ms > 0) {
    pthread_getcpuclockid(pthread_self(), &armed.cpu_clock);
    armed.cpu_deadline_ns = CpuNow(armed.cpu_clock) + uint64_t(cpu_ms * 1e6);
    armed.next_check = now + std::chrono::microseconds(int64_t(cpu_ms * 1000));
  }
  previous_token_ = env.timer_token.load();
  std::lock_guard<std::mutex> lock(g_mutex);
  token_ = g_next_id;  // tokens and ids share one counter: unique per run
  armed.token = token_;
  env.timer_token = token_;
  env.timer_fired = 0;
  id_ = g_next_id++;
  Clock::time_point first = std::min({armed.wall_deadline, armed.cpu_deadline_ns ? armed.next_check : Clock::time_point::max(), armed.next_memory_check});
  g_armed.emplace(id_, armed);
  finished_ = false;
  if (!g_started) {
    g_started = true;
    std::thread(Loop).detach();
  }
  if (first < g_earliest) {
    g_earliest = first;
    g_wake.notify_one();
  }
}

TimedRun::~TimedRun() { Finish(); }

TimerKind TimedRun::Finish() {
  if (finished_) return fired_;
  finished_ = true;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_armed.find(id_);
    fired_ = it->second.fired;
    g_armed.erase(it);
    env_.timer_token = previous_token_;
  }
  // The deadline may have fired just as the script finished: never let it leak into the next run.
  if (fired_ != TimerKind::None) env_.isolate()->CancelTerminateExecution();
  return fired_;
}

}  // namespace islet
