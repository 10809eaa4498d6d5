// The call tree of a CPU profile, built from the isolate's own stack traces, and its output as
// a Chrome DevTools Profiler.Profile.
//
// Each sample is the current JavaScript stack as V8's StackTrace API sees it: every frame,
// whether interpreted, baseline, optimised, inlined or entered on stack (OSR), by function name,
// script and position. (V8's CpuProfiler, handed a sample, resolves frames through the code it
// saw being created: code optimised before the profile started is unknown to it and its time goes
// to the caller; see cpu_profiler.h for what V8's profiler is still used for.)
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "isolate/common.h"

namespace islet {

// A finished profile, isolate-free: Chrome DevTools' Profiler.Profile.
struct ProfileData {
  struct Node {
    unsigned id = 0;
    std::string function_name;
    std::string url;
    int script_id = 0;
    int line = -1;    // 0-based, as the DevTools protocol has it: where the function starts
    int column = -1;  // 0-based
    unsigned hit_count = 0;
    std::vector<unsigned> children;
    std::vector<std::pair<int, unsigned>> position_ticks;  // (1-based line, samples)
  };
  int64_t start_time = 0;  // µs, monotonic clock
  int64_t end_time = 0;
  std::vector<Node> nodes;
  std::vector<unsigned> samples;    // node ids
  std::vector<int64_t> timestamps;  // µs, same clock
  uint64_t thread_id = 0;           // the OS thread that ran most of the samples
};

// Where functions start, keyed by (script id, function name): 0-based line and column.
using FunctionStarts = std::map<std::pair<int, std::string>, std::pair<int, int>>;

class ProfileTree {
 public:
  static constexpr int kMaxDepth = 128;

  ProfileTree();
  // On the isolate's thread, isolate entered: records where the isolate's JavaScript is now.
  void RecordStack(Isolate* isolate, int64_t time, uint64_t thread);
  // The profile of the samples taken from `start` to `end` (at most `max_samples` of them), with
  // an "(idle)" sample at each idle mark in that span. Functions not in `starts` are placed at
  // the first line they were seen running.
  ProfileData Build(int64_t start, int64_t end, unsigned max_samples, const std::vector<int64_t>& idle_marks,
                    const FunctionStarts& starts) const;
  size_t sample_count() const { return samples_.size(); }
  void Clear();

 private:
  struct Frame {
    int script_id;
    std::string name;
    std::string url;
  };
  struct Node {
    unsigned parent;  // index; 0 for the root itself
    unsigned frame;   // index into frames_; kRoot/kProgram/kIdle are pseudo-frames
    int first_line;   // 1-based, smallest line this function was seen at (fallback start)
    std::unordered_map<unsigned, unsigned> children;  // frame -> node index
  };
  struct Sample {
    int64_t time;
    unsigned node;
    int line;  // 1-based line of the top frame; 0 when none
  };
  unsigned FrameIndex(int script_id, std::string name, std::string url);
  // The frame index of a stack frame, without copying its strings when seen before: V8's
  // function names and script names are internalized strings, compared by identity.
  unsigned FrameOf(Isolate* isolate, Local<v8::StackFrame> frame);
  unsigned Child(unsigned node, unsigned frame, int line);
  unsigned FindChild(unsigned node, unsigned frame) const;

  std::vector<Frame> frames_;
  std::map<std::tuple<int, std::string, std::string>, unsigned> frame_index_;
  struct SeenFrame {
    v8::Global<String> name;
    v8::Global<String> url;
    unsigned frame;
  };
  std::unordered_multimap<uint64_t, SeenFrame> seen_;  // (script id, name hash) -> frames
  std::vector<Node> nodes_;
  std::vector<Sample> samples_;
  std::map<uint64_t, size_t> thread_samples_;
};

}  // namespace islet
