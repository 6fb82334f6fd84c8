{
  "targets": [
    {
      "target_name": "paxchain_sha256",
      "sources": ["sha256.c"],
      "cflags": ["-O2", "-Wall", "-Wno-deprecated-declarations"]
    },
    {
      "target_name": "paxchain_memory",
      "sources": ["memory.cc"],
      "cflags_cc": ["-O2", "-Wall"]
    }
  ]
}
