// The stuck-run watch (see stuck_runs.h): one thread, started on the first arm, that sleeps
// until the earliest deadline of an armed isolate. Disarming costs one atomic load while nothing
// is armed, so the end of every run (ExecScope) may call it.
#include "isolate/stuck_runs.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "isolate/scope.h"

namespace islet {
namespace {

struct Armed {
  uint64_t armed_ns;
  uint64_t deadline_ns;
  std::string label;
  std::string why;
};

// Never destroyed: the watch thread may still wait on them while the process exits.
std::mutex& g_mutex = *new std::mutex;
std::condition_variable& g_wake = *new std::condition_variable;
std::unordered_map<const IsolateEnvironment*, Armed>& g_armed =
    *new std::unordered_map<const IsolateEnvironment*, Armed>;
std::atomic<uint64_t> g_timeout_ms{0};
std::atomic<size_t> g_armed_count{0};
bool g_started = false;

[[noreturn]] void EndProcess(const Armed& stuck, uint64_t now) {
  std::fprintf(stderr, "islet: isolate \"%s\" made no progress for %llu ms after %s: ending the process\n",
               stuck.label.c_str(), static_cast<unsigned long long>((now - stuck.armed_ns) / 1000000),
               stuck.why.c_str());
  std::fflush(stderr);
  kill(getpid(), SIGKILL);
  _exit(137);
}

void Watch() {
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    if (g_armed.empty()) {
      g_wake.wait(lock);
      continue;
    }
    const Armed* earliest = nullptr;
    for (const auto& [key, armed] : g_armed) {
      if (!earliest || armed.deadline_ns < earliest->deadline_ns) earliest = &armed;
    }
    uint64_t now = WallNs();
    if (earliest->deadline_ns <= now) EndProcess(*earliest, now);
    g_wake.wait_for(lock, std::chrono::nanoseconds(earliest->deadline_ns - now));
  }
}

void WatchStuckIsolates(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Guard(isolate, [&] {
    if (info.Length() < 1 || !info[0]->IsNumber())
      ThrowTypeError("watchStuckIsolates(ms): expected a number of ms (0: off)");
    double ms = info[0].As<v8::Number>()->Value();
    if (!(ms >= 0 && ms <= 3600000))
      ThrowError(ErrorClass::RangeError, "watchStuckIsolates: ms must be from 0 (off) to 3600000");
    g_timeout_ms = static_cast<uint64_t>(ms);
  });
}

}  // namespace

void StuckRunArm(IsolateEnvironment* env, const std::string& why) {
  uint64_t timeout = g_timeout_ms.load(std::memory_order_relaxed);
  if (timeout == 0 || env->is_default()) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_armed.count(env)) return;  // asked to stop already: the first request set the deadline
  uint64_t now = WallNs();
  const std::string& label = env->label();
  g_armed.emplace(env, Armed{now, now + timeout * 1000000, label.empty() ? "unnamed" : label, why});
  g_armed_count.store(g_armed.size());
  if (!g_started) {
    g_started = true;
    std::thread(Watch).detach();
  }
  g_wake.notify_one();
}

void StuckRunDisarm(const IsolateEnvironment* env) {
  if (g_armed_count.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_armed.erase(env) == 0) return;
  g_armed_count.store(g_armed.size());
  g_wake.notify_one();
}

void ExportStuckRunWatch(Isolate* isolate, Local<Context> context, Local<Object> exports) {
  Local<Function> fn = v8::Function::New(context, WatchStuckIsolates).ToLocalChecked();
  exports->Set(context, V8Symbol(isolate, "watchStuckIsolates"), fn).Check();
}

}  // namespace islet
