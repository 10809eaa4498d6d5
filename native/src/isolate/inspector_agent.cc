// The inspector's threads and pause loop (see inspector_agent.h).
#include "isolate/inspector_agent.h"

#if ISLET_INSPECTOR_ABI

#include <algorithm>
#include <chrono>

#include "isolate/feature_support.h"
#include "isolate/scope.h"
#include "isolate/task.h"

namespace islet {
namespace {

using v8_inspector::StringView;

// Runs on the session's isolate: hands the queued answers to the session's callbacks.
class DeliverAnswers : public Runnable {
 public:
  explicit DeliverAnswers(std::weak_ptr<InspectorSessionCore> core) : core_(std::move(core)) {}
  void Run() override {
    if (auto core = core_.lock()) core->DeliverQueued();
  }

 private:
  std::weak_ptr<InspectorSessionCore> core_;
};

// Runs on the inspected isolate (its queue): dispatches what the sessions sent.
class DrainInbox : public Runnable {
 public:
  DrainInbox(std::weak_ptr<InspectorAgent> agent, std::weak_ptr<IsolateEnvironment> env)
      : agent_(std::move(agent)), env_(std::move(env)) {}
  void Run() override {
    auto agent = agent_.lock();
    auto env = env_.lock();
    if (agent && env && !env->disposed()) agent->Drain(env->isolate());
  }

 private:
  std::weak_ptr<InspectorAgent> agent_;
  std::weak_ptr<IsolateEnvironment> env_;
};

// A callback that threw: rethrown from a microtask, where the host reports it as uncaught.
void Rethrow(const FunctionCallbackInfo<Value>& info) { info.GetIsolate()->ThrowException(info.Data()); }

}  // namespace

// --- sessions ----------------------------------------------------------------------------------

void InspectorSessionCore::Queue(int call_id, const v8_inspector::StringBuffer& message) {
  StringView view = message.string();
  Outgoing item{call_id, view.is8Bit(), {}, {}};
  if (view.is8Bit()) {
    item.bytes8.assign(reinterpret_cast<const char*>(view.characters8()), view.length());
  } else {
    item.bytes16.assign(reinterpret_cast<const char16_t*>(view.characters16()), view.length());
  }
  {
    std::lock_guard<std::mutex> lock(out_mutex_);
    if (closed_) return;
    outbox_.push_back(std::move(item));
  }
  PostDelivery();
}

void InspectorSessionCore::PostDelivery() {
  {
    std::lock_guard<std::mutex> lock(out_mutex_);
    if (delivery_posted_) return;
    delivery_posted_ = true;
  }
  owner_->Post(std::make_unique<DeliverAnswers>(weak_from_this()));
}

void InspectorSessionCore::HoldLoop() {
  in_flight_++;
  if (owner_->is_default() && !loop_held_) {
    loop_held_ = true;
    owner_->RefLoop();
  }
}

void InspectorSessionCore::MessageDone() {
  in_flight_--;
  PostDelivery();  // the owner's thread lets Node's loop go when nothing is in flight
}

void InspectorSessionCore::ReleaseLoopIfIdle() {
  bool closed;
  {
    std::lock_guard<std::mutex> lock(out_mutex_);
    closed = closed_;
  }
  if (loop_held_ && (closed || in_flight_.load() <= 0)) {
    loop_held_ = false;
    owner_->UnrefLoop();
  }
}

void InspectorSessionCore::sendResponse(int call_id, std::unique_ptr<v8_inspector::StringBuffer> message) {
  Queue(call_id, *message);
}
void InspectorSessionCore::sendNotification(std::unique_ptr<v8_inspector::StringBuffer> message) {
  Queue(-1, *message);
}

void InspectorSessionCore::DeliverQueued() {
  // Queued tasks also run, without V8, once the isolate is gone.
  if (!owner_->disposed() && !owner_->torn_down()) Deliver(owner_->isolate());
}

bool InspectorSessionCore::OwnedByThisNodeThread() const { return owner_->is_default() && owner_->OnOwnThread(); }

void InspectorSessionCore::Close() {
  {
    std::lock_guard<std::mutex> lock(out_mutex_);
    if (closed_) return;
    closed_ = true;
    outbox_.clear();
    object_.reset();
    context_.reset();
  }
  PostDelivery();  // lets Node's loop go, on its thread
}

void InspectorSessionCore::Deliver(Isolate* isolate) {
  std::deque<Outgoing> items;
  RemotePtr<Object> object;
  RemotePtr<Context> context_handle;
  {
    std::lock_guard<std::mutex> lock(out_mutex_);
    items.swap(outbox_);
    delivery_posted_ = false;
    object = object_;
    context_handle = context_;
  }
  struct Release {
    InspectorSessionCore* core;
    ~Release() { core->ReleaseLoopIfIdle(); }
  } release{this};
  if (!object || items.empty()) return;
  HandleScope handles(isolate);
  Local<Context> context = context_handle->Deref();
  Context::Scope context_scope(context);
  Local<Object> self = object->Deref();
  for (Outgoing& item : items) {
    {
      std::lock_guard<std::mutex> lock(out_mutex_);
      if (closed_) return;  // a callback disposed the session
    }
    v8::TryCatch try_catch(isolate);
    Local<String> text;
    bool made = item.latin1 ? String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(item.bytes8.data()),
                                                     v8::NewStringType::kNormal, int(item.bytes8.size()))
                                  .ToLocal(&text)
                            : String::NewFromTwoByte(isolate, reinterpret_cast<const uint16_t*>(item.bytes16.data()),
                                                     v8::NewStringType::kNormal, int(item.bytes16.size()))
                                  .ToLocal(&text);
    if (!made) continue;
    const char* name = item.call_id >= 0 ? "onResponse" : "onNotification";
    Local<Value> callback;
    if (!self->Get(context, V8Symbol(isolate, name)).ToLocal(&callback) || !callback->IsFunction()) continue;
    Local<Value> args[] = {v8::Integer::New(isolate, item.call_id), text};
    Local<Value> ignored;
    bool called = item.call_id >= 0 ? callback.As<Function>()->Call(context, self, 2, args).ToLocal(&ignored)
                                    : callback.As<Function>()->Call(context, self, 1, args + 1).ToLocal(&ignored);
    if (!called && try_catch.HasCaught() && !try_catch.HasTerminated()) {
      Local<Function> rethrow;
      if (Function::New(context, Rethrow, try_catch.Exception()).ToLocal(&rethrow)) isolate->EnqueueMicrotask(rethrow);
    }
  }
}

// --- the agent ---------------------------------------------------------------------------------

std::shared_ptr<InspectorAgent> InspectorAgent::Create(const EnvPtr& env) {
  std::weak_ptr<IsolateEnvironment> weak = env;
  auto feature = env->GetOrAddFeature(FeatureId::Inspector, [&] { return std::make_shared<InspectorAgent>(weak); });
  if (!feature) throw MakeThrown(ErrorClass::Error, "Isolate is disposed", "ERR_ISOLATE_DISPOSED");
  auto agent = std::static_pointer_cast<InspectorAgent>(feature);
  ExecScope scope(*env);
  if (!agent->inspector_) agent->inspector_ = v8_inspector::V8Inspector::create(env->isolate(), agent.get());
  return agent;
}

std::shared_ptr<InspectorAgent> InspectorAgent::Of(const EnvPtr& env) {
  return std::static_pointer_cast<InspectorAgent>(env->GetFeature(FeatureId::Inspector));
}

void InspectorAgent::ContextCreated(Isolate* isolate, Local<Context> context) {
  if (!inspector_) return;
  std::string name = "context " + std::to_string(++context_count_);
  static const char kAux[] = "{\"isDefault\":true}";
  v8_inspector::V8ContextInfo info(context, kContextGroup,
                                   StringView(reinterpret_cast<const uint8_t*>(name.data()), name.size()));
  info.auxData = StringView(reinterpret_cast<const uint8_t*>(kAux), sizeof(kAux) - 1);
  inspector_->contextCreated(info);
  contexts_.erase(std::remove_if(contexts_.begin(), contexts_.end(),
                                 [](const v8::Global<Context>& held) { return held.IsEmpty(); }),
                  contexts_.end());
  contexts_.emplace_back(isolate, context);
  contexts_.back().SetWeak();
}

v8::Local<v8::Context> InspectorAgent::ensureDefaultContextInGroup(int) {
  EnvPtr env = env_.lock();
  if (!env) return {};
  for (auto it = contexts_.rbegin(); it != contexts_.rend(); ++it) {
    if (!it->IsEmpty()) return it->Get(env->isolate());
  }
  return {};
}

double InspectorAgent::currentTimeMS() {
  return double(
             std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count()) /
         1000.0;
}

void InspectorAgent::AddSession(const std::shared_ptr<InspectorSessionCore>& core) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dead_) throw MakeThrown(ErrorClass::Error, "Isolate is disposed", "ERR_ISOLATE_DISPOSED");
    sessions_.push_back(core);
    control_.push_back(core);
  }
  ScheduleDrain();
}

void InspectorAgent::Dispatch(const std::shared_ptr<InspectorSessionCore>& core, std::u16string message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dead_ || core->closing_)
      throw MakeThrown(ErrorClass::Error, "The inspector session is disposed", "ERR_ISOLATE_RELEASED");
    if (core->inbox_.size() >= kMaxQueuedMessages) {
      throw MakeThrown(
          ErrorClass::Error,
          "Too many inspector messages waiting for the isolate (" + std::to_string(kMaxQueuedMessages) + ")",
          "ERR_ISOLATE_INSPECTOR");
    }
    core->inbox_.push_back(std::move(message));
  }
  core->HoldLoop();
  ScheduleDrain();
}

void InspectorAgent::RemoveSession(const std::shared_ptr<InspectorSessionCore>& core) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (core->closing_) return;
    core->closing_ = true;
    core->inbox_.clear();
    if (!dead_) control_.push_back(core);
  }
  core->Close();
  ScheduleDrain();
}

void InspectorAgent::ScheduleDrain() {
  EnvPtr env = env_.lock();
  if (!env) return;
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dead_) return;
    if (paused_) {
      wake_.notify_all();
      return;
    }
    post = !drain_posted_;
    drain_posted_ = true;
    // Running JavaScript now (maybe for a long time): an interrupt dispatches sooner than the queue.
    // Safe: Teardown sets dead_ under this mutex before the isolate is disposed.
    if (IsExecuting(*env)) env->isolate()->RequestInterrupt(OnDrainInterrupt, nullptr);
  }
  if (post) env->Post(std::make_unique<DrainInbox>(weak_from_this(), env_));
}

void InspectorAgent::OnDrainInterrupt(Isolate* isolate, void*) {
  EnvPtr env = IsolateEnvironment::Find(isolate);
  if (!env) return;
  if (auto agent = Of(env)) agent->Drain(isolate);
}

InspectorAgent::Work InspectorAgent::NextWork() {
  Work work;
  while (!control_.empty()) {
    work.core = std::move(control_.front());
    control_.pop_front();
    if (work.core->closing_) {
      work.kind = Work::Disconnect;
      return work;
    }
    if (!work.core->connected_) {
      work.kind = Work::Connect;
      return work;
    }
  }
  for (auto& core : sessions_) {
    if (core->connected_ && !core->closing_ && !core->inbox_.empty()) {
      work.kind = Work::Message;
      work.core = core;
      work.message = std::move(core->inbox_.front());
      core->inbox_.pop_front();
      return work;
    }
  }
  work.core.reset();
  return work;
}

void InspectorAgent::DoWork(Isolate* isolate, Work& work) {
  HandleScope handles(isolate);
  InspectorSessionCore& core = *work.core;
  switch (work.kind) {
    case Work::Connect: {
      auto session = inspector_->connect(kContextGroup, &core, StringView(), v8_inspector::V8Inspector::kFullyTrusted,
                                         v8_inspector::V8Inspector::kNotWaitingForDebugger);
      std::lock_guard<std::mutex> lock(mutex_);
      core.session_ = std::move(session);
      core.connected_ = true;
      break;
    }
    case Work::Disconnect: {
      std::unique_ptr<v8_inspector::V8InspectorSession> session;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        session = std::move(core.session_);
        core.connected_ = false;
        sessions_.erase(std::remove(sessions_.begin(), sessions_.end(), work.core), sessions_.end());
      }
      // V8 may call quitMessageLoopOnPause from here: no lock held.
      session.reset();
      break;
    }
    case Work::Message:
      if (core.session_) {
        core.session_->dispatchProtocolMessage(
            StringView(reinterpret_cast<const uint16_t*>(work.message.data()), work.message.size()));
      }
      core.MessageDone();
      break;
    case Work::None:
      break;
  }
}

void InspectorAgent::Drain(Isolate* isolate) {
  std::unique_lock<std::mutex> lock(mutex_);
  drain_posted_ = false;
  if (dead_ || dispatching_ || paused_ || !inspector_) return;
  dispatching_ = true;
  for (;;) {
    Work work = NextWork();
    if (work.kind == Work::None) break;
    lock.unlock();
    DoWork(isolate, work);
    lock.lock();
  }
  dispatching_ = false;
}

bool InspectorAgent::NothingCanResume() {
  // Mutex held, nothing queued. Only Node's own thread can be stuck for good: there the
  // sessions' callbacks are the only source of messages, and they have all run.
  if (sessions_.empty()) return true;
  if (!IsolateEnvironment::DefaultOnThisThread()) return false;
  for (auto& core : sessions_) {
    if (!core->OwnedByThisNodeThread()) return false;
    std::lock_guard<std::mutex> out(core->out_mutex_);
    if (!core->outbox_.empty()) return false;
  }
  return true;
}

void InspectorAgent::runMessageLoopOnPause(int) {
  EnvPtr env = env_.lock();
  if (!env) return;
  Isolate* isolate = env->isolate();
  std::unique_lock<std::mutex> lock(mutex_);
  if (dead_ || paused_) return;
  bool outer_dispatching = dispatching_;
  paused_ = true;
  quit_ = false;
  while (!quit_ && !dead_) {
    // A pause must not outlive the run's limits: a disposal, or a time limit that fired (its
    // termination only takes effect once the isolate runs JavaScript again, i.e. after this).
    if (env->disposed() || isolate->IsExecutionTerminating() || env->timer_fired.load() != 0) break;
    Work work = NextWork();
    if (work.kind != Work::None) {
      dispatching_ = true;
      lock.unlock();
      DoWork(isolate, work);
      lock.lock();
      continue;
    }
    // Node's loop is blocked when the pause is on its thread: deliver here, run its microtasks.
    lock.unlock();
    bool delivered = DeliverOnThisThread(true);
    lock.lock();
    if (delivered) continue;
    if (NothingCanResume()) break;
    wake_.wait_for(lock, std::chrono::milliseconds(50));
  }
  paused_ = false;
  quit_ = false;
  dispatching_ = outer_dispatching;
  // What the last messages answered (Debugger.resumed...) reaches the callbacks before the
  // paused call returns.
  lock.unlock();
  DeliverOnThisThread(false);
}

bool InspectorAgent::DeliverOnThisThread(bool run_microtasks) {
  std::vector<std::shared_ptr<InspectorSessionCore>> local;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& core : sessions_) {
      if (core->OwnedByThisNodeThread()) local.push_back(core);
    }
  }
  bool delivered = false;
  for (auto& core : local) {
    {
      std::lock_guard<std::mutex> out(core->out_mutex_);
      if (core->outbox_.empty()) continue;
    }
    delivered = true;
    ExecScope node_scope(*core->owner_);
    core->Deliver(core->owner_->isolate());
    if (run_microtasks) core->owner_->isolate()->PerformMicrotaskCheckpoint();
  }
  return delivered;
}

void InspectorAgent::quitMessageLoopOnPause() {
  std::lock_guard<std::mutex> lock(mutex_);
  quit_ = true;
  wake_.notify_all();
}

void InspectorAgent::Teardown(Isolate*) {
  std::vector<std::shared_ptr<InspectorSessionCore>> sessions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dead_ = true;
    sessions.swap(sessions_);
    control_.clear();
    wake_.notify_all();
  }
  for (auto& core : sessions) {
    std::unique_ptr<v8_inspector::V8InspectorSession> session;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      session = std::move(core->session_);
      core->connected_ = false;
      core->closing_ = true;
    }
    session.reset();
    core->Close();
  }
  contexts_.clear();
  inspector_.reset();
}

}  // namespace islet

#endif  // ISLET_INSPECTOR_ABI
