// Startup snapshots: V8's SnapshotCreator runs a set of scripts in a fresh context and
// serialises the resulting heap; isolates created from the blob start with that context
// (Context::New returns a copy of it), so a bootstrap is neither compiled nor run per isolate.
//
// A V8 blob is only valid for the V8 binary (and build configuration) that wrote it, and V8
// aborts the process on a blob it cannot read. islet therefore wraps the blob in its own
// container (magic, format, V8 version, build configuration, the --no-node-snapshot choice,
// length, checksum) and refuses anything that does not match this process with a clear error
// before V8 sees it. How the blob is made so that it reads back faithfully: snapshot_cache.h.
#pragma once

#include <node.h>

#include <string>
#include <vector>

#include "isolate/common.h"

namespace islet {

struct SnapshotSource {
  std::string code;
  std::string filename = "<snapshot>";
  int line_offset = 0;
  int column_offset = 0;
};

// Runs `scripts` (then `warmup`, when given, in a throwaway context) in a new isolate on this
// thread and returns islet's container holding the blob. A script that throws makes this throw
// a ThrownValue describing that error. V8 itself aborts on heaps it cannot serialise (shared
// or resizable buffers, WebAssembly), which is why native/index.ts runs this in a child process.
std::vector<uint8_t> MakeSnapshot(node::MultiIsolatePlatform* platform, const std::vector<SnapshotSource>& scripts,
                                  const SnapshotSource* warmup);

// Checks islet's container in `data` and returns the V8 blob it holds (an immutable copy,
// shared by every isolate made from the same ExternalCopy). Throws an Error with code
// ERR_ISOLATE_SNAPSHOT (not a snapshot, damaged) or ERR_ISOLATE_SNAPSHOT_VERSION (made by
// another V8 or build) that says what differs.
std::shared_ptr<const v8::StartupData> OpenSnapshot(const std::shared_ptr<v8::BackingStore>& store);

// The C++ functions contexts in a snapshot may reference (null-terminated), passed both to the
// SnapshotCreator and to isolates created from a snapshot.
const intptr_t* SnapshotExternalReferences();

}  // namespace islet
