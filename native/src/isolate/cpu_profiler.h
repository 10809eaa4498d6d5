// CPU profiles of an isolate, whichever thread runs it.
//
// V8's own sampler sends SIGPROF to the one thread that started the profile and drops the
// sample unless that thread holds the isolate; islet isolates move between Node's thread and
// the pool, so that would lose most samples. Instead one sampler thread ("islet:profiler")
// wakes every sampling interval and, for each isolate with a profile running:
//   - if the isolate is executing, asks it (RequestInterrupt) to record its current stack with
//     CpuProfiler::CollectSample, on whichever thread it runs;
//   - if it is idle, records the moment it became idle, and the finished profile gets an
//     "(idle)" sample there, so DevTools does not charge idle time to the last function seen.
// Samples land where V8 checks for interrupts (function entry, loop back-edges), so time in a
// long builtin or a host callback shows on the JavaScript frame that made the call. V8 records
// no hit counts or line ticks for samples handed to it: islet counts hits from the samples and
// records the line of the top JavaScript frame with each sample (DevTools' positionTicks).
//
// Bounded: at most kMaxTitles profiles per isolate, `maxSamples` samples each; the profiler
// and its code-event logging exist only while a profile runs; nothing runs when none does.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <v8-profiler.h>

#include "isolate/environment.h"

namespace islet {

// A finished profile, copied out of V8 (isolate-free): Chrome DevTools' Profiler.Profile.
struct ProfileData {
  struct Node {
    unsigned id = 0;
    std::string function_name;
    std::string url;
    int script_id = 0;
    int line = -1;    // 0-based, as the DevTools protocol has it
    int column = -1;  // 0-based
    unsigned hit_count = 0;
    std::vector<unsigned> children;
    std::vector<std::pair<int, unsigned>> position_ticks;  // (1-based line, ticks)
  };
  int64_t start_time = 0;  // µs, monotonic clock
  int64_t end_time = 0;
  std::vector<Node> nodes;
  std::vector<unsigned> samples;       // node ids
  std::vector<int64_t> timestamps;     // µs, same clock
  uint64_t thread_id = 0;              // the OS thread that ran most of the samples
};

// The line a sample was taken at (V8 keeps no line ticks for samples handed to it), and when:
// the sample's timestamp falls between `before` and `after`.
struct SampleLine {
  int64_t before;
  int64_t after;
  int script_id;
  int line;  // 1-based
};

struct ProfileOptions {
  int interval_us = 1000;
  unsigned max_samples = 100000;
};

class CpuProfilerFeature : public Feature, public std::enable_shared_from_this<CpuProfilerFeature> {
 public:
  static constexpr size_t kMaxTitles = 16;

  // The isolate's profiler state (made on first use); null when the isolate is gone.
  static std::shared_ptr<CpuProfilerFeature> For(const EnvPtr& env);

  // Any thread: records that `title` should run. Throws when it already runs or too many do.
  void Request(const std::string& title, const ProfileOptions& options);
  // Any thread, after Request: starts the requested profiles as soon as the isolate can (its
  // queue, or an interrupt when it is running now).
  void ScheduleBegin();
  // Whether a profile titled `title` was requested and not yet stopped.
  bool Has(const std::string& title);
  // On the isolate's thread, isolate entered: starts the requested profiles not started yet.
  void BeginPending(Isolate* isolate);
  // On the isolate's thread: stops `title`; nullopt when no such profile runs.
  std::optional<ProfileData> End(Isolate* isolate, const std::string& title);
  void Teardown(Isolate* isolate) override;

  // The sampler thread's side (see cpu_profiler.cc).
  bool Tick(int64_t now_us);
  int IntervalUs();
  static void OnSampleInterrupt(Isolate* isolate, void* data);
  static void OnBeginInterrupt(Isolate* isolate, void* data);

  explicit CpuProfilerFeature(std::weak_ptr<IsolateEnvironment> env) : env_(std::move(env)) {}

 private:
  struct Title {
    ProfileOptions options;
    bool started = false;
  };
  void TakeSample(Isolate* isolate);

  std::weak_ptr<IsolateEnvironment> env_;
  std::mutex mutex_;  // guards everything below; held by the sampler while it interrupts
  bool dead_ = false;
  std::map<std::string, Title> titles_;
  v8::CpuProfiler* profiler_ = nullptr;  // isolate thread only (created and disposed there)
  bool was_running_ = false;
  uint64_t idle_epoch_ = 0;              // bumped when the sampler sees the isolate idle
  bool sample_pending_ = false;         // an interrupt is requested for the current epoch
  std::vector<int64_t> idle_marks_;      // µs: the isolate was seen idle from here on
  std::vector<SampleLine> line_marks_;
  std::map<uint64_t, size_t> thread_samples_;
};

}  // namespace islet
