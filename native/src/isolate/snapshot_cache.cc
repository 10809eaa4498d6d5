// The serializer-flag switch of snapshot_cache.h.
#include "isolate/snapshot_cache.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <v8-version.h>

namespace islet {
namespace {

#if V8_MAJOR_VERSION == 11 && V8_MINOR_VERSION == 3
constexpr const char* kFlagsSymbol = "_ZN2v88internal8Snapshot23kDefaultSerializerFlagsE";
constexpr int32_t kReconstructCaches = 1 << 2;  // SerializerFlag::kReconstructReadOnlyAndSharedObjectCachesForTesting
#else
constexpr const char* kFlagsSymbol = nullptr;
constexpr int32_t kReconstructCaches = 0;
#endif

std::mutex& g_mutex = *new std::mutex;
int g_depth = 0;
int g_original_protection = 0;

int32_t* FlagsAddress() {
  if (!kFlagsSymbol) return nullptr;
  static int32_t* address = static_cast<int32_t*>(dlsym(RTLD_DEFAULT, kFlagsSymbol));
  return address;
}

// The protection of the mapping holding `address`, from /proc/self/maps (0 when not found).
int ProtectionOf(const void* address) {
  FILE* maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return 0;
  char line[512];
  int protection = 0;
  uintptr_t target = reinterpret_cast<uintptr_t>(address);
  while (std::fgets(line, sizeof(line), maps)) {
    unsigned long start, end;
    char perms[5] = {0};
    if (std::sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3) continue;
    if (target < start || target >= end) continue;
    if (perms[0] == 'r') protection |= PROT_READ;
    if (perms[1] == 'w') protection |= PROT_WRITE;
    if (perms[2] == 'x') protection |= PROT_EXEC;
    break;
  }
  std::fclose(maps);
  return protection;
}

bool Write(int32_t* flags, int32_t value, int protection) {
  uintptr_t page_size = uintptr_t(sysconf(_SC_PAGESIZE));
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(flags) & ~(page_size - 1));
  if (!(protection & PROT_WRITE) && mprotect(page, page_size, protection | PROT_WRITE) != 0) return false;
  *flags = value;
  if (!(protection & PROT_WRITE)) mprotect(page, page_size, protection);
  return true;
}

}  // namespace

bool ReadOnlyCacheScope::Supported() { return FlagsAddress() != nullptr; }

ReadOnlyCacheScope::ReadOnlyCacheScope() {
  int32_t* flags = FlagsAddress();
  if (!flags) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_depth == 0) {
    g_original_protection = ProtectionOf(flags);
    if (!g_original_protection || !Write(flags, *flags | kReconstructCaches, g_original_protection)) return;
  }
  g_depth++;
  active_ = true;
}

ReadOnlyCacheScope::~ReadOnlyCacheScope() {
  if (!active_) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (--g_depth == 0) Write(FlagsAddress(), *FlagsAddress() & ~kReconstructCaches, g_original_protection);
}

}  // namespace islet
