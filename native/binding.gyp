{
  "targets": [
    {
      "target_name": "islet",
      "sources": [
        "src/addon.cc",
        "src/common.cc",
        "src/environment.cc",
        "src/scope.cc",
        "src/watchdog.cc",
        "src/task.cc",
        "src/transfer.cc",
        "src/class_handle.cc",
        "src/isolate.cc",
        "src/context.cc",
        "src/script.cc",
        "src/module.cc",
        "src/reference.cc",
        "src/external_copy.cc",
        "src/callback.cc"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-fexceptions", "-std=gnu++20", "-Wno-unused-parameter"]
    }
  ]
}
