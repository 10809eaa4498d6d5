{
  "variables": {
    # 1: build with AddressSanitizer (scripts/build-native.js --asan builds into native/build-asan).
    # Not named "asan": Node's own config.gypi defines that one (0), and it wins.
    "islet_asan%": 0
  },
  "targets": [
    {
      "target_name": "islet",
      "sources": [
        "src/addon.cc",
        "src/shared_file.cc",
        "src/isolate/common.cc",
        "src/isolate/environment.cc",
        "src/isolate/node_env.cc",
        "src/isolate/foreground.cc",
        "src/isolate/limits.cc",
        "src/isolate/scope.cc",
        "src/isolate/watchdog.cc",
        "src/isolate/stuck_runs.cc",
        "src/isolate/task.cc",
        "src/isolate/transfer.cc",
        "src/isolate/buffers.cc",
        "src/isolate/serialized.cc",
        "src/isolate/async_context.cc",
        "src/isolate/promise_rejections.cc",
        "src/isolate/snapshot.cc",
        "src/isolate/snapshot_cache.cc",
        "src/isolate/cpu_profiler.cc",
        "src/isolate/profile_tree.cc",
        "src/isolate/inspector_agent.cc",
        "src/module/class_handle.cc",
        "src/module/library.cc",
        "src/module/isolate.cc",
        "src/module/context.cc",
        "src/module/script.cc",
        "src/module/compile.cc",
        "src/module/module.cc",
        "src/module/link.cc",
        "src/module/module_hooks.cc",
        "src/module/reference.cc",
        "src/module/apply_sync_promise.cc",
        "src/module/external_copy.cc",
        "src/module/callback.cc",
        "src/module/features.cc",
        "src/module/profiler.cc",
        "src/module/inspector.cc",
        "src/module/external_memory.cc",
        "src/module/thread_clock.cc"
      ],
      "include_dirs": ["src"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-fexceptions", "-std=gnu++20", "-Wno-unused-parameter"],
      "conditions": [
        ["islet_asan==1", {
          "cflags!": ["-O3"],
          "cflags_cc!": ["-O3"],
          "cflags": ["-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1"],
          "cflags_cc": ["-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1"],
          "ldflags": ["-fsanitize=address"]
        }]
      ]
    }
  ]
}
