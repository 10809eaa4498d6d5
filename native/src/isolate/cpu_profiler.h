// CPU profiles of an isolate, whichever thread runs it.
//
// V8's own sampler sends SIGPROF to the one thread that started the profile and drops the
// sample unless that thread holds the isolate; islet isolates move between Node's thread and
// the pool, so that would lose most samples. Instead one sampler thread ("islet:profiler")
// wakes every sampling interval and, for each isolate with a profile running:
//   - if the isolate is executing, asks it (RequestInterrupt) to record its current stack, on
//     whichever thread runs it (a profile requested meanwhile starts there: starting one never
//     waits for the isolate nor queues work to it);
//   - if it is idle, records the moment it became idle: the profile gets an "(idle)" sample
//     there, so DevTools does not charge idle time to the last function seen.
// The stacks make the call tree (profile_tree.h). V8's CpuProfiler runs beside it, handed the
// same samples, for one thing: where each function starts (DevTools' callFrame position).
// Samples land where V8 checks for interrupts (function entry, loop back-edges), so time in a
// long builtin or a host callback shows on the JavaScript frame that made the call.
//
// Bounded: at most kMaxTitles profiles per isolate, `maxSamples` samples each. Nothing runs
// for an isolate that was never profiled; once profiled, V8 keeps logging the code it compiles
// (a small cost) until the isolate is disposed, so later profiles name all of it.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <v8-profiler.h>

#include "isolate/environment.h"
#include "isolate/profile_tree.h"

namespace islet {

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
  // Any thread, after Request: has the sampler thread watch this isolate.
  void Watch();
  // On the isolate's thread: stops `title`; nullopt when no such profile runs.
  std::optional<ProfileData> End(Isolate* isolate, const std::string& title);
  void Teardown(Isolate* isolate) override;

  // The sampler thread's side: false once nothing runs any more.
  bool Tick(int64_t now_us);
  bool Active();
  int IntervalUs();
  static void OnSampleInterrupt(Isolate* isolate, void* data);

  explicit CpuProfilerFeature(std::weak_ptr<IsolateEnvironment> env) : env_(std::move(env)) {}

 private:
  struct Title {
    ProfileOptions options;
    bool started = false;
    int64_t start_us = 0;
  };
  // On the isolate's thread: starts the requested profiles not started yet.
  void BeginPending(Isolate* isolate);
  void TakeSample(Isolate* isolate);
  unsigned StorageLimit();

  std::weak_ptr<IsolateEnvironment> env_;
  std::mutex mutex_;  // guards what the sampler thread shares; held by it while it interrupts
  bool dead_ = false;
  std::map<std::string, Title> titles_;
  bool was_running_ = false;
  uint64_t request_seq_ = 0;     // sample interrupts requested so far
  uint64_t stale_seq_ = 0;       // requests up to this one were made before the isolate went idle
  uint64_t served_seq_ = 0;      // requests up to this one are covered by a sample taken
  bool sample_pending_ = false;  // a request is outstanding
  int64_t requested_at_ = 0;
  std::vector<int64_t> idle_marks_;  // µs: the isolate was seen idle from here on

  // The isolate's thread only.
  v8::CpuProfiler* profiler_ = nullptr;
  ProfileTree tree_;
};

}  // namespace islet
