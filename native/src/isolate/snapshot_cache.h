// Makes V8 11.3 write snapshots that isolates of this process (and of any process of the same
// Node binary and flags) read back faithfully.
//
// V8 11.3 refers to objects of the read-only heap from a snapshot by their index in a cache
// that the serializer fills in the order it meets them. Every isolate of a Node process shares
// one read-only heap and the cache that came with it (from V8's own snapshot, or Node's), so a
// blob whose serializer met read-only objects in another order (any blob with new strings: all
// single-character strings are read-only objects) is read back with the wrong objects: property
// names and variable names turn into other strings, or into objects of another type, and V8
// crashes. V8 has a serializer mode that starts from the process's own cache so indices agree
// (kReconstructReadOnlyAndSharedObjectCachesForTesting), but SnapshotCreator::CreateBlob takes
// its flags from the constant Snapshot::kDefaultSerializerFlags. While a ReadOnlyCacheScope
// lives, that constant holds the mode's bit (its page is made writable for the change and
// restored). Only done for the V8 it was checked against (Node 20's 11.3); elsewhere a no-op.
#pragma once

namespace islet {

class ReadOnlyCacheScope {
 public:
  ReadOnlyCacheScope();
  ~ReadOnlyCacheScope();
  ReadOnlyCacheScope(const ReadOnlyCacheScope&) = delete;
  ReadOnlyCacheScope& operator=(const ReadOnlyCacheScope&) = delete;

  // True when this build knows how to make faithful snapshots for this V8.
  static bool Supported();
  // True while the serializer flag is set (false: its page could not be made writable).
  bool active() const { return active_; }

 private:
  bool active_ = false;
};

}  // namespace islet
