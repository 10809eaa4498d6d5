// Declarations of the parts of V8's inspector that islet uses, written for the V8 inside
// Node 20 (V8 11.3). Node's executable contains and exports V8's inspector, but Node does not
// install its header (v8-inspector.h), so islet declares what it needs itself.
//
// These classes are an ABI contract with Node's binary: data layouts must be identical, and
// virtual functions must be declared in V8's order, because calls go through vtable slots.
// Slots islet never calls are declared as placeholders named after the V8 method they stand
// for. Classes islet implements (the client and the channel) declare every slot V8 may call.
// Any other V8 version: inspector.cc reports the inspector as unavailable rather than guess.
#pragma once

#include <v8-version.h>
#include <v8.h>

#include <cstdint>
#include <memory>

#define ISLET_INSPECTOR_ABI (V8_MAJOR_VERSION == 11 && V8_MINOR_VERSION == 3)

#if ISLET_INSPECTOR_ABI

namespace v8_inspector {

class V8StackTrace;  // only passed by pointer
// islet only ever returns null ones; complete so that std::unique_ptr of it compiles here.
class WebDriverValue {};

// A borrowed string: Latin-1 bytes or UTF-16 code units.
class V8_EXPORT StringView {
 public:
  StringView() : is_8bit_(true), length_(0), chars8_(nullptr) {}
  StringView(const uint8_t* chars, size_t length) : is_8bit_(true), length_(length), chars8_(chars) {}
  StringView(const uint16_t* chars, size_t length) : is_8bit_(false), length_(length), chars16_(chars) {}
  bool is8Bit() const { return is_8bit_; }
  size_t length() const { return length_; }
  const uint8_t* characters8() const { return chars8_; }
  const uint16_t* characters16() const { return chars16_; }

 private:
  bool is_8bit_;
  size_t length_;
  union {
    const uint8_t* chars8_;
    const uint16_t* chars16_;
  };
};

// A string owned by V8, handed to the channel.
class V8_EXPORT StringBuffer {
 public:
  virtual ~StringBuffer() = default;
  virtual StringView string() const = 0;
};

// Describes a context to the inspector (contextCreated reads these fields).
class V8_EXPORT V8ContextInfo {
 public:
  V8ContextInfo(v8::Local<v8::Context> context, int group, StringView name)
      : context(context), contextGroupId(group), humanReadableName(name), hasMemoryOnConsole(false) {}
  v8::Local<v8::Context> context;
  int contextGroupId;
  StringView humanReadableName;
  StringView origin;
  StringView auxData;
  bool hasMemoryOnConsole;
  V8ContextInfo(const V8ContextInfo&) = delete;
  V8ContextInfo& operator=(const V8ContextInfo&) = delete;
};

// One connected protocol client, owned by the embedder; used on the isolate's thread only.
class V8_EXPORT V8InspectorSession {
 public:
  virtual ~V8InspectorSession() = default;
  virtual void addInspectedObject_slot() = 0;
  virtual void dispatchProtocolMessage(StringView message) = 0;
  virtual void state_slot() = 0;
  virtual void supportedDomains_slot() = 0;
  virtual void initializeCommandLineAPIScope_slot() = 0;
  virtual void schedulePauseOnNextStatement(StringView reason, StringView details) = 0;
  virtual void cancelPauseOnNextStatement() = 0;
  virtual void breakProgram(StringView reason, StringView details) = 0;
  virtual void setSkipAllPauses(bool skip) = 0;
  virtual void resume(bool terminate_on_resume) = 0;
  virtual void stepOver() = 0;
  virtual void searchInTextByLines_slot() = 0;
  virtual void wrapObject_slot() = 0;
  virtual void unwrapObject_slot() = 0;
  virtual void releaseObjectGroup(StringView group) = 0;
  virtual void triggerPreciseCoverageDeltaUpdate(StringView occasion) = 0;
  // Prepares the session for shutdown (no more pauses).
  virtual void stop() = 0;
};

// What the inspector asks of its embedder. Every slot is declared: V8 may call any of them.
class V8_EXPORT V8InspectorClient {
 public:
  using TimerCallback = void (*)(void*);
  virtual ~V8InspectorClient() = default;
  virtual void runMessageLoopOnPause(int group) {}
  virtual void runMessageLoopOnInstrumentationPause(int group) { runMessageLoopOnPause(group); }
  virtual void quitMessageLoopOnPause() {}
  virtual void runIfWaitingForDebugger(int group) {}
  virtual void muteMetrics(int group) {}
  virtual void unmuteMetrics(int group) {}
  virtual void beginUserGesture() {}
  virtual void endUserGesture() {}
  virtual std::unique_ptr<WebDriverValue> serializeToWebDriverValue(v8::Local<v8::Value>, int) { return nullptr; }
  virtual std::unique_ptr<StringBuffer> valueSubtype(v8::Local<v8::Value>) { return nullptr; }
  virtual std::unique_ptr<StringBuffer> descriptionForValueSubtype(v8::Local<v8::Context>, v8::Local<v8::Value>) {
    return nullptr;
  }
  virtual bool isInspectableHeapObject(v8::Local<v8::Object>) { return true; }
  virtual v8::Local<v8::Context> ensureDefaultContextInGroup(int group) { return {}; }
  virtual void beginEnsureAllContextsInGroup(int group) {}
  virtual void endEnsureAllContextsInGroup(int group) {}
  virtual void installAdditionalCommandLineAPI(v8::Local<v8::Context>, v8::Local<v8::Object>) {}
  virtual void consoleAPIMessage(int group, v8::Isolate::MessageErrorLevel level, const StringView& message,
                                 const StringView& url, unsigned line, unsigned column, V8StackTrace* trace) {}
  virtual v8::MaybeLocal<v8::Value> memoryInfo(v8::Isolate*, v8::Local<v8::Context>) { return {}; }
  virtual void consoleTime(const StringView& title) {}
  virtual void consoleTimeEnd(const StringView& title) {}
  virtual void consoleTimeStamp(const StringView& title) {}
  virtual void consoleClear(int group) {}
  virtual double currentTimeMS() { return 0; }
  virtual void startRepeatingTimer(double, TimerCallback, void* data) {}
  virtual void cancelTimer(void* data) {}
  virtual bool canExecuteScripts(int group) { return true; }
  virtual void maxAsyncCallStackDepthChanged(int depth) {}
  virtual std::unique_ptr<StringBuffer> resourceNameToUrl(const StringView& name) { return nullptr; }
  virtual int64_t generateUniqueId() { return 0; }
  virtual void dispatchError(v8::Local<v8::Context>, v8::Local<v8::Message>, v8::Local<v8::Value>) {}
};

class V8_EXPORT V8Inspector {
 public:
  static std::unique_ptr<V8Inspector> create(v8::Isolate* isolate, V8InspectorClient* client);
  virtual ~V8Inspector() = default;
  virtual void contextCreated(const V8ContextInfo& info) = 0;
  virtual void contextDestroyed(v8::Local<v8::Context> context) = 0;
  virtual void resetContextGroup(int group) = 0;
  virtual void contextById_slot() = 0;
  virtual void uniqueDebuggerId_slot() = 0;
  virtual void idleStarted() = 0;
  virtual void idleFinished() = 0;
  virtual void asyncTaskScheduled_slot() = 0;
  virtual void asyncTaskCanceled_slot() = 0;
  virtual void asyncTaskStarted_slot() = 0;
  virtual void asyncTaskFinished_slot() = 0;
  virtual void allAsyncTasksCanceled_slot() = 0;
  virtual void storeCurrentStackTrace_slot() = 0;
  virtual void externalAsyncTaskStarted_slot() = 0;
  virtual void externalAsyncTaskFinished_slot() = 0;
  virtual void exceptionThrown_slot() = 0;
  virtual void exceptionRevoked_slot() = 0;
  virtual void associateExceptionData_slot() = 0;

  // The embedder's end of a session: V8 calls it on the isolate's thread.
  class V8_EXPORT Channel {
   public:
    virtual ~Channel() = default;
    virtual void sendResponse(int call_id, std::unique_ptr<StringBuffer> message) = 0;
    virtual void sendNotification(std::unique_ptr<StringBuffer> message) = 0;
    virtual void flushProtocolNotifications() = 0;
  };
  enum ClientTrustLevel { kUntrusted, kFullyTrusted };
  enum SessionPauseState { kWaitingForDebugger, kNotWaitingForDebugger };
  virtual std::unique_ptr<V8InspectorSession> connect(int group, Channel* channel, StringView state,
                                                      ClientTrustLevel trust, SessionPauseState pause) = 0;
  virtual void createStackTrace_slot() = 0;
  virtual void captureStackTrace_slot() = 0;
};

}  // namespace v8_inspector

#endif  // ISLET_INSPECTOR_ABI
