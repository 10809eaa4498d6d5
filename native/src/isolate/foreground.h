// V8's foreground tasks of a non-default isolate (GC finalisation, compile jobs): V8 posts them
// through the platform delegate islet registers the isolate with, and they run on whichever
// thread executes the isolate when it leaves it (or a pool thread when it is idle).
#pragma once

#include <v8-platform.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "isolate/environment.h"

namespace islet {

class ForegroundRunner : public v8::TaskRunner {
 public:
  explicit ForegroundRunner(std::weak_ptr<IsolateEnvironment> env) : env_(std::move(env)) {}

  void PostTask(std::unique_ptr<v8::Task> task) override;
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override { PostTask(std::move(task)); }
  void PostDelayedTask(std::unique_ptr<v8::Task> task, double delay) override;
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task, double delay) override {
    PostDelayedTask(std::move(task), delay);
  }
  void PostIdleTask(std::unique_ptr<v8::IdleTask>) override {}
  bool IdleTasksEnabled() override { return false; }
  bool NonNestableTasksEnabled() const override { return true; }
  bool NonNestableDelayedTasksEnabled() const override { return true; }

  // Tasks ready to run now (delayed ones only once due).
  bool HasWork() const;
  // Runs the tasks that are due; the isolate is entered by the caller.
  void RunDue();
  // Drops everything (the isolate is being torn down); later posts are dropped too.
  void Clear();

 private:
  static double Now();
  void Wake();

  std::weak_ptr<IsolateEnvironment> env_;
  std::mutex mutex_;
  bool closed_ = false;
  std::deque<std::unique_ptr<v8::Task>> tasks_;
  std::vector<std::pair<double, std::unique_ptr<v8::Task>>> delayed_;
  std::atomic<size_t> count_{0};  // tasks + delayed, read without the mutex
  std::atomic<size_t> ready_{0};  // tasks (not delayed)
  std::atomic<double> earliest_due_{std::numeric_limits<double>::infinity()};
};

class PlatformDelegate : public node::IsolatePlatformDelegate {
 public:
  explicit PlatformDelegate(std::shared_ptr<ForegroundRunner> runner) : runner_(std::move(runner)) {}
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner() override { return runner_; }
  bool IdleTasksEnabled() override { return false; }

 private:
  std::shared_ptr<ForegroundRunner> runner_;
};

}  // namespace islet
