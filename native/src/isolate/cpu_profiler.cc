// Interrupt-driven CPU profiles (see cpu_profiler.h).
#include "isolate/cpu_profiler.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "isolate/feature_support.h"

namespace islet {
namespace {

// V8's own signal sampler is kept asleep: it would sample only the thread that started the
// profile (and double-count it). It still wakes once when the profile stops; that sample is
// taken only if that thread holds the isolate at that instant.
constexpr int kV8SamplerIntervalUs = 1 << 30;

int64_t MonotonicUs() {
  // V8's TimeTicks on Linux: CLOCK_MONOTONIC in µs, plus one (V8 never returns 0), so idle
  // marks, line marks and V8's sample timestamps share one time line.
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000 + 1;
}

std::shared_ptr<CpuProfilerFeature> FeatureOf(Isolate* isolate) {
  EnvPtr env = IsolateEnvironment::Find(isolate);
  if (!env) return nullptr;
  return std::static_pointer_cast<CpuProfilerFeature>(env->GetFeature(FeatureId::CpuProfiler));
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
    for (auto& known : features_) {
      if (known.lock() == feature) return;
    }
    features_.push_back(feature);
    if (!started_) {
      started_ = true;
      std::thread([this] { Run(); }).detach();
    }
    wake_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    auto next = std::chrono::steady_clock::now();
    for (;;) {
      if (features_.empty()) {
        wake_.wait(lock);
        next = std::chrono::steady_clock::now();
        continue;
      }
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
      features_.erase(std::remove_if(features_.begin(), features_.end(),
                                     [&](const std::weak_ptr<CpuProfilerFeature>& weak) {
                                       auto feature = weak.lock();
                                       return !feature || std::find(finished.begin(), finished.end(), feature) != finished.end();
                                     }),
                      features_.end());
      next += std::chrono::microseconds(interval);
      auto now_point = std::chrono::steady_clock::now();
      if (next < now_point) next = now_point + std::chrono::microseconds(interval);
      wake_.wait_until(lock, next);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::weak_ptr<CpuProfilerFeature>> features_;
  bool started_ = false;
};

void CopyNodes(const v8::CpuProfileNode* node, std::vector<ProfileData::Node>& out) {
  ProfileData::Node copy;
  copy.id = node->GetNodeId();
  copy.function_name = node->GetFunctionNameStr();
  copy.url = node->GetScriptResourceNameStr();
  copy.script_id = node->GetScriptId();
  copy.line = node->GetLineNumber() - 1;
  copy.column = node->GetColumnNumber() - 1;
  int count = node->GetChildrenCount();
  for (int i = 0; i < count; ++i) copy.children.push_back(node->GetChild(i)->GetNodeId());
  out.push_back(std::move(copy));
  for (int i = 0; i < count; ++i) CopyNodes(node->GetChild(i), out);
}

// Hit counts from the samples, and each sample's line (from the marks taken with it) as the
// positionTicks of its node when the node is the function of that frame.
void CountHits(ProfileData& data, const std::vector<SampleLine>& marks) {
  std::map<unsigned, size_t> index;
  for (size_t i = 0; i < data.nodes.size(); ++i) {
    index[data.nodes[i].id] = i;
    data.nodes[i].hit_count = 0;
    data.nodes[i].position_ticks.clear();
  }
  std::map<std::pair<size_t, int>, unsigned> lines;
  size_t next = 0;
  for (size_t i = 0; i < data.samples.size(); ++i) {
    auto found = index.find(data.samples[i]);
    if (found == index.end()) continue;
    ProfileData::Node& node = data.nodes[found->second];
    node.hit_count++;
    int64_t time = data.timestamps[i];
    while (next < marks.size() && marks[next].after < time) next++;
    if (next < marks.size() && marks[next].before <= time && marks[next].script_id == node.script_id && node.script_id > 0) {
      lines[{found->second, marks[next].line}]++;
    }
  }
  for (auto& [key, ticks] : lines) data.nodes[key.first].position_ticks.emplace_back(key.second, ticks);
}

// Adds an "(idle)" node under the root and a sample of it at each idle mark in the profile's span.
void AddIdleSamples(ProfileData& data, const std::vector<int64_t>& marks) {
  std::vector<int64_t> inside;
  for (int64_t mark : marks) {
    if (mark >= data.start_time && mark <= data.end_time) inside.push_back(mark);
  }
  if (inside.empty() || data.nodes.empty()) return;
  unsigned idle_id = 0;
  for (auto& node : data.nodes) idle_id = std::max(idle_id, node.id);
  idle_id++;
  ProfileData::Node idle;
  idle.id = idle_id;
  idle.function_name = "(idle)";
  idle.hit_count = unsigned(inside.size());
  data.nodes.front().children.push_back(idle_id);
  data.nodes.push_back(idle);
  std::vector<std::pair<int64_t, unsigned>> merged;
  merged.reserve(data.samples.size() + inside.size());
  for (size_t i = 0; i < data.samples.size(); ++i) merged.emplace_back(data.timestamps[i], data.samples[i]);
  for (int64_t mark : inside) merged.emplace_back(mark, idle_id);
  std::stable_sort(merged.begin(), merged.end(), [](auto& a, auto& b) { return a.first < b.first; });
  data.samples.clear();
  data.timestamps.clear();
  for (auto& [time, id] : merged) {
    data.timestamps.push_back(time);
    data.samples.push_back(id);
  }
}

}  // namespace

std::shared_ptr<CpuProfilerFeature> CpuProfilerFeature::For(const EnvPtr& env) {
  std::weak_ptr<IsolateEnvironment> weak = env;
  auto feature = env->GetOrAddFeature(FeatureId::CpuProfiler, [&] { return std::make_shared<CpuProfilerFeature>(weak); });
  return std::static_pointer_cast<CpuProfilerFeature>(feature);
}

void CpuProfilerFeature::Request(const std::string& title, const ProfileOptions& options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dead_) ThrowError(ErrorClass::Error, "Isolate is disposed", "ERR_ISOLATE_DISPOSED");
  if (titles_.count(title)) {
    ThrowError(ErrorClass::Error, "A CPU profile titled '" + title + "' is already running in this isolate", "ERR_ISOLATE_PROFILER");
  }
  if (titles_.size() >= kMaxTitles) {
    ThrowError(ErrorClass::Error, "Too many CPU profiles running in this isolate (at most " + std::to_string(kMaxTitles) + ")",
               "ERR_ISOLATE_PROFILER");
  }
  titles_[title] = Title{options, false};
}

bool CpuProfilerFeature::Has(const std::string& title) {
  std::lock_guard<std::mutex> lock(mutex_);
  return titles_.count(title) > 0;
}

void CpuProfilerFeature::ScheduleBegin() {
  class Begin : public Runnable {
   public:
    explicit Begin(std::weak_ptr<CpuProfilerFeature> feature, std::weak_ptr<IsolateEnvironment> env)
        : feature_(std::move(feature)), env_(std::move(env)) {}
    void Run() override {
      auto feature = feature_.lock();
      auto env = env_.lock();
      if (feature && env && !env->disposed()) feature->BeginPending(env->isolate());
    }

   private:
    std::weak_ptr<CpuProfilerFeature> feature_;
    std::weak_ptr<IsolateEnvironment> env_;
  };
  EnvPtr env = env_.lock();
  if (!env) return;
  env->Post(std::make_unique<Begin>(weak_from_this(), env_));
  // The queue waits for the current run to end; a long run is profiled from now on.
  std::lock_guard<std::mutex> lock(mutex_);
  if (!dead_ && IsExecuting(*env)) env->isolate()->RequestInterrupt(OnBeginInterrupt, nullptr);
}

void CpuProfilerFeature::BeginPending(Isolate* isolate) {
  std::vector<std::pair<std::string, ProfileOptions>> starting;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dead_) return;
    for (auto& [title, state] : titles_) {
      if (!state.started) {
        state.started = true;
        starting.emplace_back(title, state.options);
      }
    }
  }
  if (starting.empty()) return;
  HandleScope handles(isolate);
  if (!profiler_) {
    v8::CpuProfiler::UseDetailedSourcePositionsForProfiling(isolate);
    profiler_ = v8::CpuProfiler::New(isolate, v8::kDebugNaming, v8::kLazyLogging);
    profiler_->SetSamplingInterval(kV8SamplerIntervalUs);
  }
  for (auto& [title, options] : starting) {
    v8::CpuProfilingOptions v8_options(v8::kLeafNodeLineNumbers, options.max_samples, 0);
    profiler_->StartProfiling(V8String(isolate, title), std::move(v8_options));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_running_ = true;
  }
  SamplerThread::Get().Add(shared_from_this());
}

std::optional<ProfileData> CpuProfilerFeature::End(Isolate* isolate, const std::string& title) {
  if (!Has(title)) return std::nullopt;
  BeginPending(isolate);
  HandleScope handles(isolate);
  v8::CpuProfile* profile = profiler_ ? profiler_->StopProfiling(V8String(isolate, title)) : nullptr;
  ProfileData data;
  std::vector<int64_t> marks;
  std::vector<SampleLine> lines;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    titles_.erase(title);
    marks = idle_marks_;
    lines = line_marks_;
    size_t best = 0;
    for (auto& [thread, count] : thread_samples_) {
      if (count > best) best = count, data.thread_id = thread;
    }
    if (titles_.empty()) {
      idle_marks_.clear();
      line_marks_.clear();
      thread_samples_.clear();
    }
  }
  if (data.thread_id == 0) data.thread_id = uint64_t(syscall(SYS_gettid));
  if (profile) {
    data.start_time = profile->GetStartTime();
    data.end_time = profile->GetEndTime();
    CopyNodes(profile->GetTopDownRoot(), data.nodes);
    int count = profile->GetSamplesCount();
    data.samples.reserve(count);
    data.timestamps.reserve(count);
    for (int i = 0; i < count; ++i) {
      data.samples.push_back(profile->GetSample(i)->GetNodeId());
      data.timestamps.push_back(profile->GetSampleTimestamp(i));
    }
    profile->Delete();
    CountHits(data, lines);
    AddIdleSamples(data, marks);
  }
  bool last;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last = titles_.empty();
  }
  if (last && profiler_) {
    profiler_->Dispose();
    profiler_ = nullptr;
  }
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
  if (!profiler_) return;
  HandleScope handles(isolate);
  for (auto& title : running) {
    if (v8::CpuProfile* profile = profiler_->StopProfiling(V8String(isolate, title))) profile->Delete();
  }
  profiler_->Dispose();
  profiler_ = nullptr;
}

int CpuProfilerFeature::IntervalUs() {
  std::lock_guard<std::mutex> lock(mutex_);
  int interval = 1 << 30;
  for (auto& [title, state] : titles_) interval = std::min(interval, state.options.interval_us);
  return interval;
}

bool CpuProfilerFeature::Tick(int64_t now_us) {
  EnvPtr env = env_.lock();  // released after the mutex below: a last reference may tear down
  std::lock_guard<std::mutex> lock(mutex_);
  if (dead_ || titles_.empty() || !env || env->torn_down()) return false;
  bool running = IsExecuting(*env);
  if (running) {
    was_running_ = true;
    if (!sample_pending_) {
      sample_pending_ = true;
      // Safe: Teardown sets dead_ under this mutex before the isolate is disposed.
      env->isolate()->RequestInterrupt(OnSampleInterrupt, reinterpret_cast<void*>(uintptr_t(idle_epoch_)));
    }
  } else {
    if (was_running_ && idle_marks_.size() < 1000000) idle_marks_.push_back(now_us);
    was_running_ = false;
    // A sample requested during the last run may fire at the start of the next: it is stale.
    idle_epoch_++;
    sample_pending_ = false;
  }
  return true;
}

void CpuProfilerFeature::TakeSample(Isolate* isolate) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dead_ || !profiler_) return;
    thread_samples_[uint64_t(syscall(SYS_gettid))]++;
  }
  HandleScope handles(isolate);
  SampleLine mark{MonotonicUs(), 0, -1, 0};
  Local<v8::StackTrace> trace = v8::StackTrace::CurrentStackTrace(isolate, 1, v8::StackTrace::kScriptId);
  if (trace->GetFrameCount() > 0) {
    Local<v8::StackFrame> frame = trace->GetFrame(isolate, 0);
    mark.script_id = frame->GetScriptId();
    mark.line = frame->GetLineNumber();
  }
  v8::CpuProfiler::CollectSample(isolate);
  mark.after = MonotonicUs();
  std::lock_guard<std::mutex> lock(mutex_);
  if (line_marks_.size() < 1000000) line_marks_.push_back(mark);
}

void CpuProfilerFeature::OnSampleInterrupt(Isolate* isolate, void* data) {
  std::shared_ptr<CpuProfilerFeature> feature = FeatureOf(isolate);
  if (!feature) return;
  {
    std::lock_guard<std::mutex> lock(feature->mutex_);
    if (uint64_t(reinterpret_cast<uintptr_t>(data)) != feature->idle_epoch_) return;
    feature->sample_pending_ = false;
  }
  feature->TakeSample(isolate);
}

void CpuProfilerFeature::OnBeginInterrupt(Isolate* isolate, void*) {
  if (std::shared_ptr<CpuProfilerFeature> feature = FeatureOf(isolate)) feature->BeginPending(isolate);
}

}  // namespace islet
