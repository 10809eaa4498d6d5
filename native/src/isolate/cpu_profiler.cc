// Interrupt-driven CPU profiles (see cpu_profiler.h).
#include "isolate/cpu_profiler.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "isolate/feature_support.h"
#include "isolate/scope.h"

namespace islet {
namespace {

// V8's own signal sampler is kept asleep: it would sample only the thread that started the
// profile (and twice where islet samples too). It still wakes once when the profile stops.
constexpr int kV8SamplerIntervalUs = 1 << 30;

int64_t MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

uint64_t ThreadId() { return uint64_t(syscall(SYS_gettid)); }

// V8's sampler installs a SIGPROF handler while a profile runs and puts the previous action
// back when the last one stops; its thread may still send one last SIGPROF that lands after that
// (seen: "Profiling timer expired" killing the process). With SIGPROF ignored beforehand, the
// action V8 puts back is "ignore".
void IgnoreStraySigprof() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current;
    if (sigaction(SIGPROF, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
        current.sa_handler == SIG_DFL) {
      signal(SIGPROF, SIG_IGN);
    }
  });
}

std::shared_ptr<CpuProfilerFeature> FeatureOf(Isolate* isolate) {
  EnvPtr env = IsolateEnvironment::Find(isolate);
  if (!env) return nullptr;
  return std::static_pointer_cast<CpuProfilerFeature>(env->GetFeature(FeatureId::CpuProfiler));
}

// Where V8's profile says each function it resolved starts.
void CollectStarts(const v8::CpuProfileNode* node, FunctionStarts& starts) {
  if (node->GetScriptId() > 0 && node->GetLineNumber() > 0) {
    starts.emplace(std::make_pair(node->GetScriptId(), std::string(node->GetFunctionNameStr())),
                   std::make_pair(node->GetLineNumber() - 1, std::max(0, node->GetColumnNumber() - 1)));
  }
  for (int i = 0; i < node->GetChildrenCount(); ++i) CollectStarts(node->GetChild(i), starts);
}

// The one thread that paces the samples of every profiled isolate.
class SamplerThread {
 public:
  static SamplerThread& Get() {
    static SamplerThread& instance = *new SamplerThread;  // never destroyed: the thread outlives exit
    return instance;
  }
  void Add(const std::shared_ptr<CpuProfilerFeature>& feature) {
    std::lock_guard<std::mutex> lock(mutex_);
    changed_ = true;
    bool known = false;
    for (auto& item : features_) known = known || item.lock() == feature;
    if (!known) features_.push_back(feature);
    if (!started_) {
      started_ = true;
      std::thread([this] { Run(); }).detach();
    }
    wake_.notify_all();
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "islet:profiler");
    std::unique_lock<std::mutex> lock(mutex_);
    auto next = std::chrono::steady_clock::now();
    for (;;) {
      wake_.wait(lock, [&] { return !features_.empty(); });
      changed_ = false;
      std::vector<std::weak_ptr<CpuProfilerFeature>> current = features_;
      lock.unlock();
      int interval = 1 << 30;
      std::vector<std::shared_ptr<CpuProfilerFeature>> finished;
      int64_t now = MonotonicUs();
      for (auto& weak : current) {
        std::shared_ptr<CpuProfilerFeature> feature = weak.lock();
        if (!feature || !feature->Tick(now)) {
          finished.push_back(feature);
          continue;
        }
        interval = std::min(interval, feature->IntervalUs());
      }
      lock.lock();
      // A profile may have started again since its Tick said "done": keep those.
      features_.erase(std::remove_if(features_.begin(), features_.end(),
                                     [&](const std::weak_ptr<CpuProfilerFeature>& weak) {
                                       auto feature = weak.lock();
                                       if (!feature) return true;
                                       return std::find(finished.begin(), finished.end(), feature) != finished.end() &&
                                              !feature->Active();
                                     }),
                      features_.end());
      if (features_.empty()) continue;
      // Steady pacing; after a late wake-up, start afresh. Add() wakes the thread at once.
      auto step = std::chrono::microseconds(std::min(interval, 100000));
      auto now_point = std::chrono::steady_clock::now();
      next += step;
      if (next < now_point || next > now_point + step) next = now_point + step;
      wake_.wait_until(lock, next, [&] { return changed_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::weak_ptr<CpuProfilerFeature>> features_;
  bool started_ = false;
  bool changed_ = false;  // Add() was called since the last pass
};

}  // namespace

std::shared_ptr<CpuProfilerFeature> CpuProfilerFeature::For(const EnvPtr& env) {
  std::weak_ptr<IsolateEnvironment> weak = env;
  auto feature =
      env->GetOrAddFeature(FeatureId::CpuProfiler, [&] { return std::make_shared<CpuProfilerFeature>(weak); });
  return std::static_pointer_cast<CpuProfilerFeature>(feature);
}

void CpuProfilerFeature::Request(const std::string& title, const ProfileOptions& options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dead_) ThrowError(ErrorClass::Error, "Isolate is disposed", "ERR_ISOLATE_DISPOSED");
  if (titles_.count(title)) {
    ThrowError(ErrorClass::Error, "A CPU profile titled '" + title + "' is already running in this isolate",
               "ERR_ISOLATE_PROFILER");
  }
  if (titles_.size() >= kMaxTitles) {
    ThrowError(ErrorClass::Error,
               "Too many CPU profiles running in this isolate (at most " + std::to_string(kMaxTitles) + ")",
               "ERR_ISOLATE_PROFILER");
  }
  titles_[title] = Title{options, false, 0};
}

void CpuProfilerFeature::Watch() {
  // Called from Node's thread on an idle isolate: start now, so V8's profiler sees the code the
  // next call compiles (it places functions by the code it saw). Otherwise the first sample does.
  EnvPtr env = env_.lock();
  IsolateEnvironment* node_env = IsolateEnvironment::DefaultOnThisThread();
  if (env && node_env && IsolateEnvironment::Current() == node_env && !IsExecuting(*env) && !env->disposed()) {
    ExecScope scope(*env);
    if (!env->disposed()) BeginPending(env->isolate());
  }
  SamplerThread::Get().Add(shared_from_this());
}

void CpuProfilerFeature::BeginPending(Isolate* isolate) {
  std::vector<std::string> starting;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dead_) return;
    int64_t now = MonotonicUs();
    for (auto& [title, state] : titles_) {
      if (!state.started) {
        state.started = true;
        state.start_us = now;
        starting.push_back(title);
      }
    }
  }
  if (starting.empty()) return;
  HandleScope handles(isolate);
  if (!profiler_) {
    IgnoreStraySigprof();
    v8::CpuProfiler::UseDetailedSourcePositionsForProfiling(isolate);
    // Eager logging: once an isolate has been profiled, the code it compiles from then on stays
    // known to V8's profiler, so later profiles place all of it.
    profiler_ = v8::CpuProfiler::New(isolate, v8::kDebugNaming, v8::kEagerLogging);
    profiler_->SetSamplingInterval(kV8SamplerIntervalUs);
  }
  for (auto& title : starting) {
    v8::CpuProfilingOptions v8_options(v8::kLeafNodeLineNumbers, v8::CpuProfilingOptions::kNoSampleLimit, 0);
    profiler_->StartProfiling(V8String(isolate, title), std::move(v8_options));
  }
}

std::optional<ProfileData> CpuProfilerFeature::End(Isolate* isolate, const std::string& title) {
  ProfileOptions options;
  int64_t start;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = titles_.find(title);
    if (found == titles_.end()) return std::nullopt;
    options = found->second.options;
    if (!found->second.started) found->second.start_us = MonotonicUs();
    start = found->second.start_us;
  }
  FunctionStarts starts;
  if (profiler_) {
    HandleScope handles(isolate);
    if (v8::CpuProfile* profile = profiler_->StopProfiling(V8String(isolate, title))) {
      CollectStarts(profile->GetTopDownRoot(), starts);
      profile->Delete();
    }
  }
  std::vector<int64_t> marks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    titles_.erase(title);
    marks = idle_marks_;
    if (titles_.empty()) idle_marks_.clear();
  }
  ProfileData data = tree_.Build(start, MonotonicUs(), options.max_samples, marks, starts);
  if (data.thread_id == 0) data.thread_id = ThreadId();
  if (!Active()) tree_.Clear();
  return data;
}

void CpuProfilerFeature::Teardown(Isolate* isolate) {
  std::vector<std::string> running;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dead_ = true;
    for (auto& [title, state] : titles_) {
      if (state.started) running.push_back(title);
    }
    titles_.clear();
  }
  tree_.Clear();  // holds V8 handles: released while the isolate still exists
  if (!profiler_) return;
  HandleScope handles(isolate);
  for (auto& title : running) {
    if (v8::CpuProfile* profile = profiler_->StopProfiling(V8String(isolate, title))) profile->Delete();
  }
  profiler_->Dispose();
  profiler_ = nullptr;
}

bool CpuProfilerFeature::Active() {
  std::lock_guard<std::mutex> lock(mutex_);
  return !dead_ && !titles_.empty();
}

int CpuProfilerFeature::IntervalUs() {
  std::lock_guard<std::mutex> lock(mutex_);
  int interval = 1 << 30;
  for (auto& [title, state] : titles_) interval = std::min(interval, state.options.interval_us);
  return interval;
}

unsigned CpuProfilerFeature::StorageLimit() {
  std::lock_guard<std::mutex> lock(mutex_);
  unsigned limit = 0;
  for (auto& [title, state] : titles_) limit = std::max(limit, state.options.max_samples);
  return limit;
}

bool CpuProfilerFeature::Tick(int64_t now_us) {
  EnvPtr env = env_.lock();  // released after the mutex below: a last reference may tear down
  std::lock_guard<std::mutex> lock(mutex_);
  if (dead_ || titles_.empty() || !env || env->torn_down()) return false;
  if (IsExecuting(*env)) {
    was_running_ = true;
    // One request at a time; again if it was not served in two intervals: V8 keeps the
    // "interrupt requested" flag per thread, and a request can be lost when the isolate moves
    // to another thread (Node's and the pool's) without going idle in between.
    int interval = 1 << 30;
    for (auto& [title, state] : titles_) interval = std::min(interval, state.options.interval_us);
    if (!sample_pending_ || now_us - requested_at_ > 2 * int64_t(interval)) {
      sample_pending_ = true;
      requested_at_ = now_us;
      // Safe: Teardown sets dead_ under this mutex before the isolate is disposed.
      env->isolate()->RequestInterrupt(OnSampleInterrupt, reinterpret_cast<void*>(uintptr_t(++request_seq_)));
    }
  } else {
    if (was_running_ && idle_marks_.size() < 1000000) idle_marks_.push_back(now_us);
    was_running_ = false;
    // A sample requested during the last run may fire at the start of the next: it is stale.
    stale_seq_ = request_seq_;
    sample_pending_ = false;
  }
  return true;
}

void CpuProfilerFeature::TakeSample(Isolate* isolate) {
  if (tree_.sample_count() >= StorageLimit()) return;
  tree_.RecordStack(isolate, MonotonicUs(), ThreadId());
  // V8's profiler, handed the same moment, learns where the sampled functions start.
  if (profiler_) v8::CpuProfiler::CollectSample(isolate);
}

void CpuProfilerFeature::OnSampleInterrupt(Isolate* isolate, void* data) {
  std::shared_ptr<CpuProfilerFeature> feature = FeatureOf(isolate);
  if (!feature) return;
  {
    std::lock_guard<std::mutex> lock(feature->mutex_);
    uint64_t seq = uint64_t(reinterpret_cast<uintptr_t>(data));
    // Stale (requested before the isolate went idle) or already served by a later request.
    if (feature->dead_ || seq <= feature->stale_seq_ || seq <= feature->served_seq_) return;
    feature->served_seq_ = feature->request_seq_;
    feature->sample_pending_ = false;
  }
  // A profile requested since the last sample starts here, on the thread running the isolate.
  feature->BeginPending(isolate);
  feature->TakeSample(isolate);
}

}  // namespace islet
