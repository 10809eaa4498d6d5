// ForegroundRunner: V8's per-isolate foreground task queue (see foreground.h).
#include "isolate/foreground.h"

namespace islet {
namespace {

// Wakes an idle isolate so that a pool thread runs its foreground tasks.
class NoopRunnable : public Runnable {
 public:
  void Run() override {}
};

}  // namespace

double ForegroundRunner::Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ForegroundRunner::PostTask(std::unique_ptr<v8::Task> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    tasks_.push_back(std::move(task));
    count_++;
    ready_++;
  }
  Wake();
}

void ForegroundRunner::PostDelayedTask(std::unique_ptr<v8::Task> task, double delay) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return;
  delayed_.emplace_back(Now() + delay, std::move(task));
  count_++;
  earliest_due_ = std::min(earliest_due_.load(), Now() + delay);
}

bool ForegroundRunner::HasWork() const {
  if (ready_.load() > 0) return true;
  return count_.load() > 0 && earliest_due_.load() <= Now();
}

void ForegroundRunner::RunDue() {
  if (count_.load() == 0) return;  // the common case, without taking the mutex
  std::deque<std::unique_ptr<v8::Task>> ready;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready.swap(tasks_);
    count_ -= ready.size();
    ready_ = 0;
    double now = Now();
    double earliest = std::numeric_limits<double>::infinity();
    for (auto it = delayed_.begin(); it != delayed_.end();) {
      if (it->first <= now) {
        ready.push_back(std::move(it->second));
        it = delayed_.erase(it);
        count_--;
      } else {
        earliest = std::min(earliest, it->first);
        ++it;
      }
    }
    earliest_due_ = earliest;
  }
  for (auto& task : ready) task->Run();
}

void ForegroundRunner::Clear() {
  std::deque<std::unique_ptr<v8::Task>> tasks;
  std::vector<std::pair<double, std::unique_ptr<v8::Task>>> delayed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    tasks.swap(tasks_);
    delayed.swap(delayed_);
    count_ = 0;
    ready_ = 0;
    earliest_due_ = std::numeric_limits<double>::infinity();
  }
  // Destroyed outside the mutex: a task's destructor may post again (and find the runner closed).
}

void ForegroundRunner::Wake() {
  // An idle isolate gets a pool thread to run the task; a running one runs it when it leaves.
  auto env = env_.lock();
  if (!env || env->disposed() || env->owner.load() != IsolateEnvironment::kFree) return;
  env->Post(std::make_unique<NoopRunnable>());
}

}  // namespace islet
