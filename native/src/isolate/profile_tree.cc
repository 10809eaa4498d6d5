// Recording samples into the call tree, and building DevTools profiles from it (profile_tree.h).
#include "isolate/profile_tree.h"

#include <algorithm>

namespace islet {
namespace {

// Pseudo-frames and their nodes, made by the constructor (node ids are index + 1).
constexpr unsigned kRoot = 0;
constexpr unsigned kProgram = 1;  // a sample with no JavaScript on the stack
constexpr unsigned kIdle = 2;     // the isolate was not running

}  // namespace

ProfileTree::ProfileTree() { Clear(); }

void ProfileTree::Clear() {
  frames_ = {{0, "(root)", ""}, {0, "(program)", ""}, {0, "(idle)", ""}};
  frame_index_.clear();
  seen_.clear();  // Global handles: reset on the isolate's thread (Clear is only called there)
  nodes_.clear();
  nodes_.push_back(Node{kRoot, kRoot, 0, {}});
  nodes_[kRoot].children[kProgram] = kProgram;
  nodes_[kRoot].children[kIdle] = kIdle;
  nodes_.push_back(Node{kRoot, kProgram, 0, {}});
  nodes_.push_back(Node{kRoot, kIdle, 0, {}});
  samples_.clear();
  thread_samples_.clear();
}

unsigned ProfileTree::FrameIndex(int script_id, std::string name, std::string url) {
  auto key = std::make_tuple(script_id, std::move(name), std::move(url));
  auto found = frame_index_.find(key);
  if (found != frame_index_.end()) return found->second;
  unsigned index = unsigned(frames_.size());
  frames_.push_back(Frame{script_id, std::get<1>(key), std::get<2>(key)});
  frame_index_.emplace(std::move(key), index);
  return index;
}

unsigned ProfileTree::FrameOf(Isolate* isolate, Local<v8::StackFrame> frame) {
  int script_id = frame->GetScriptId();
  Local<String> name = frame->GetFunctionName();
  Local<String> url = frame->GetScriptNameOrSourceURL();
  if (name.IsEmpty()) name = String::Empty(isolate);
  if (url.IsEmpty()) url = String::Empty(isolate);
  uint64_t key = (uint64_t(uint32_t(script_id)) << 32) | uint32_t(name->GetIdentityHash());
  auto range = seen_.equal_range(key);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.name.Get(isolate)->StringEquals(name) && it->second.url.Get(isolate)->StringEquals(url))
      return it->second.frame;
  }
  unsigned index = FrameIndex(script_id, ToUtf8(isolate, name), ToUtf8(isolate, url));
  seen_.emplace(key, SeenFrame{v8::Global<String>(isolate, name), v8::Global<String>(isolate, url), index});
  return index;
}

unsigned ProfileTree::FindChild(unsigned node, unsigned frame) const {
  auto found = nodes_[node].children.find(frame);
  return found == nodes_[node].children.end() ? 0 : found->second;
}

unsigned ProfileTree::Child(unsigned node, unsigned frame, int line) {
  auto found = nodes_[node].children.find(frame);
  if (found != nodes_[node].children.end()) {
    Node& child = nodes_[found->second];
    if (line > 0 && (child.first_line == 0 || line < child.first_line)) child.first_line = line;
    return found->second;
  }
  unsigned index = unsigned(nodes_.size());
  nodes_.push_back(Node{node, frame, line, {}});
  nodes_[node].children[frame] = index;
  return index;
}

void ProfileTree::RecordStack(Isolate* isolate, int64_t time, uint64_t thread) {
  HandleScope handles(isolate);
  auto options = static_cast<v8::StackTrace::StackTraceOptions>(v8::StackTrace::kDetailed | v8::StackTrace::kScriptId);
  Local<v8::StackTrace> trace = v8::StackTrace::CurrentStackTrace(isolate, kMaxDepth, options);
  int count = trace->GetFrameCount();
  unsigned node = count == 0 ? kProgram : kRoot;
  int top_line = 0;
  for (int i = count - 1; i >= 0; --i) {
    Local<v8::StackFrame> frame = trace->GetFrame(isolate, uint32_t(i));
    unsigned index = FrameOf(isolate, frame);
    // Positions cost V8 work (source positions may be computed lazily): only for the top frame
    // (positionTicks) and the first time a node is seen (its fallback start line).
    unsigned existing = FindChild(node, index);
    if (i == 0) top_line = frame->GetLineNumber();
    node = existing ? Child(node, index, i == 0 ? top_line : 0)
                    : Child(node, index, i == 0 ? top_line : frame->GetLineNumber());
  }
  samples_.push_back(Sample{time, node, top_line});
  thread_samples_[thread]++;
}

ProfileData ProfileTree::Build(int64_t start, int64_t end, unsigned max_samples, const std::vector<int64_t>& idle_marks,
                               const FunctionStarts& starts) const {
  ProfileData out;
  out.start_time = start;
  out.end_time = end;
  std::vector<Sample> picked;
  for (const Sample& sample : samples_) {
    if (sample.time < start || sample.time > end) continue;
    if (picked.size() >= max_samples) break;
    picked.push_back(sample);
  }
  for (int64_t mark : idle_marks) {
    if (mark >= start && mark <= end) picked.push_back(Sample{mark, kIdle, 0});
  }
  std::stable_sort(picked.begin(), picked.end(), [](const Sample& a, const Sample& b) { return a.time < b.time; });

  std::vector<bool> used(nodes_.size(), false);
  std::vector<unsigned> hits(nodes_.size(), 0);
  std::map<std::pair<unsigned, int>, unsigned> ticks;
  used[kRoot] = true;
  for (const Sample& sample : picked) {
    hits[sample.node]++;
    if (sample.line > 0 && sample.node > kIdle) ticks[{sample.node, sample.line}]++;
    for (unsigned node = sample.node; !used[node]; node = nodes_[node].parent) used[node] = true;
    out.samples.push_back(sample.node + 1);
    out.timestamps.push_back(sample.time);
  }
  // Parents were made before their children: index order lists them first.
  for (unsigned index = 0; index < nodes_.size(); ++index) {
    if (!used[index]) continue;
    const Node& node = nodes_[index];
    const Frame& frame = frames_[node.frame];
    ProfileData::Node item;
    item.id = index + 1;
    item.function_name = frame.name;
    item.url = frame.url;
    item.script_id = frame.script_id;
    if (index > kIdle) {
      auto known = starts.find({frame.script_id, frame.name});
      if (known != starts.end()) {
        item.line = known->second.first;
        item.column = known->second.second;
      } else {
        item.line = std::max(0, node.first_line - 1);
        item.column = 0;
      }
    }
    item.hit_count = hits[index];
    std::vector<unsigned> children;
    for (auto& [frame_index, child] : node.children) {
      if (used[child]) children.push_back(child);
    }
    std::sort(children.begin(), children.end());
    for (unsigned child : children) item.children.push_back(child + 1);
    for (auto it = ticks.lower_bound({index, 0}); it != ticks.end() && it->first.first == index; ++it) {
      item.position_ticks.emplace_back(it->first.second, it->second);
    }
    out.nodes.push_back(std::move(item));
  }
  size_t best = 0;
  for (auto& [thread, count] : thread_samples_) {
    if (count > best) best = count, out.thread_id = thread;
  }
  return out;
}

}  // namespace islet
