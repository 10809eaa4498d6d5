// The V8 inspector of one isolate (`new Isolate({ inspector: true })`) and its sessions.
//
// Threads. V8 requires every inspector call on the thread executing the isolate, with the
// isolate locked. Sessions live elsewhere (usually Node's isolate). So:
//   - a message from a session goes to the session's inbox; the agent dispatches it on the
//     isolate's thread: from the isolate's queue when idle, from an interrupt when it is running
//     JavaScript, from the pause loop when it is stopped at a breakpoint;
//   - V8's answers go to the session's outbox and are delivered to the session's callbacks in
//     the session's own isolate (its queue: Node's event loop for Node's isolate).
// The pause loop (runMessageLoopOnPause) waits for inbox messages. When the isolate is paused
// on Node's own thread (a sync call such as evalSync hit a breakpoint), Node's event loop is
// blocked, so the loop itself delivers the outbox to the session callbacks (they run on this
// thread, inside the paused call) and runs Node's microtasks; whatever those callbacks send
// (evaluateOnCallFrame, resume...) lands in the inbox and is dispatched by the loop. A pause
// that nothing can end any more (on Node's thread, every session answered, nothing queued) is
// resumed rather than left to hang the process.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "isolate/environment.h"
#include "isolate/inspector_abi.h"
#include "isolate/remote.h"

namespace islet {

#if ISLET_INSPECTOR_ABI

class InspectorAgent;

// One session: its queues and its V8 session. Owned by the JS session object and the agent.
class InspectorSessionCore : public v8_inspector::V8Inspector::Channel,
                             public std::enable_shared_from_this<InspectorSessionCore> {
 public:
  InspectorSessionCore(EnvPtr owner, RemotePtr<Object> object, RemotePtr<Context> context)
      : owner_(std::move(owner)), object_(std::move(object)), context_(std::move(context)) {}

  // V8's side (isolate thread).
  void sendResponse(int call_id, std::unique_ptr<v8_inspector::StringBuffer> message) override;
  void sendNotification(std::unique_ptr<v8_inspector::StringBuffer> message) override;
  void flushProtocolNotifications() override {}

  // Delivers the outbox to onResponse/onNotification; the owner isolate is entered.
  void Deliver(Isolate* isolate);
  // Same, from the owner isolate's queue.
  void DeliverQueued();
  // True when the session's callbacks run in Node's isolate on the calling thread.
  bool OwnedByThisNodeThread() const;
  // Drops the JS object and queued answers (the session is closed).
  void Close();
  // Owner's thread, when a message is sent: Node's loop stays alive until it is answered.
  void HoldLoop();
  // Isolate thread: a message has been dispatched (its answers, if any, are queued).
  void MessageDone();

 private:
  friend class InspectorAgent;
  struct Outgoing {
    int call_id;  // -1: a notification
    bool latin1;
    std::string bytes8;
    std::u16string bytes16;
  };
  void Queue(int call_id, const v8_inspector::StringBuffer& message);
  void PostDelivery();
  void ReleaseLoopIfIdle();

  // Guarded by the agent's mutex.
  std::deque<std::u16string> inbox_;
  bool connected_ = false;
  bool closing_ = false;
  std::unique_ptr<v8_inspector::V8InspectorSession> session_;  // isolate thread only

  EnvPtr owner_;
  std::mutex out_mutex_;
  std::deque<Outgoing> outbox_;
  bool delivery_posted_ = false;
  bool closed_ = false;
  std::atomic<int> in_flight_{0};  // messages sent and not yet dispatched
  bool loop_held_ = false;         // owner's thread only
  RemotePtr<Object> object_;
  RemotePtr<Context> context_;
};

class InspectorAgent : public Feature,
                       public v8_inspector::V8InspectorClient,
                       public std::enable_shared_from_this<InspectorAgent> {
 public:
  static constexpr int kContextGroup = 1;
  // Messages a session may have waiting for a busy isolate.
  static constexpr size_t kMaxQueuedMessages = 10000;
  // Creates the isolate's inspector (the isolate is idle; entered here).
  static std::shared_ptr<InspectorAgent> Create(const EnvPtr& env);
  static std::shared_ptr<InspectorAgent> Of(const EnvPtr& env);

  // Isolate thread: announces a new context to the inspector.
  void ContextCreated(Isolate* isolate, Local<Context> context);
  // Any thread: a new session (connected on the isolate's thread), a message, a disconnect.
  void AddSession(const std::shared_ptr<InspectorSessionCore>& core);
  void Dispatch(const std::shared_ptr<InspectorSessionCore>& core, std::u16string message);
  void RemoveSession(const std::shared_ptr<InspectorSessionCore>& core);
  // Isolate thread: connects, disconnects and dispatches whatever is queued.
  void Drain(Isolate* isolate);
  void Teardown(Isolate* isolate) override;

  // V8InspectorClient
  void runMessageLoopOnPause(int group) override;
  void quitMessageLoopOnPause() override;
  v8::Local<v8::Context> ensureDefaultContextInGroup(int group) override;
  double currentTimeMS() override;

  explicit InspectorAgent(std::weak_ptr<IsolateEnvironment> env) : env_(std::move(env)) {}

 private:
  // Queued work for the isolate thread, one item at a time (mutex held by the caller).
  struct Work {
    enum Kind { None, Connect, Disconnect, Message } kind = None;
    std::shared_ptr<InspectorSessionCore> core;
    std::u16string message;
  };
  Work NextWork();
  void DoWork(Isolate* isolate, Work& work);
  void ScheduleDrain();
  bool NothingCanResume();
  // Pause on Node's thread: hands the queued answers of sessions owned by this thread's Node
  // isolate to their callbacks (mutex not held). True when there were any.
  bool DeliverOnThisThread(bool run_microtasks);
  static void OnDrainInterrupt(Isolate* isolate, void* data);

  std::weak_ptr<IsolateEnvironment> env_;
  std::unique_ptr<v8_inspector::V8Inspector> inspector_;  // isolate thread only
  std::vector<v8::Global<Context>> contexts_;             // isolate thread only (weak)
  int context_count_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool dead_ = false;
  bool paused_ = false;
  bool quit_ = false;
  bool dispatching_ = false;  // a dispatch is on the isolate's stack: interrupts must not nest one
  bool drain_posted_ = false;
  std::vector<std::shared_ptr<InspectorSessionCore>> sessions_;
  std::deque<std::shared_ptr<InspectorSessionCore>> control_;  // sessions to connect or disconnect
};

#endif  // ISLET_INSPECTOR_ABI

}  // namespace islet
