{
  # The polyloop native addon (Linux only). Built by `npm install` through
  # scripts/build-native.mjs; see docs/native.md.
  "targets": [
    {
      "target_name": "polyloop",
      "sources": [
        "native/polyloop.c",
        "native/socket.c",
        "native/acceptor.c",
        "native/sendfile.c",
        "native/fdpass.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
