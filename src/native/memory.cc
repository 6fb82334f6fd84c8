// The V8 half of the node's memory reclaim (src/node/memory-reclaim.ts), as a tiny addon of its
// own: it needs V8's C++ API, which Node-API (sha256.c) does not offer, so it is rebuilt for the
// Node.js that runs `npm run build` (src/native/build.mjs) and is optional like the hash addon.
//
// lowMemoryNotification(): undefined
//   v8::Isolate::LowMemoryNotification(): full collections that also shrink the young
//   generation back to its minimum and give pooled pages back. JavaScript's gc() never shrinks
//   the young generation, which a connection flood grows to 2 x 16 MB semi-spaces and which then
//   stays for the life of the process.
#include <node.h>
#include <v8.h>

namespace {

void LowMemoryNotification(const v8::FunctionCallbackInfo<v8::Value>& args) {
  args.GetIsolate()->LowMemoryNotification();
}

void Initialize(v8::Local<v8::Object> exports) {
  NODE_SET_METHOD(exports, "lowMemoryNotification", LowMemoryNotification);
}

}  // namespace

NODE_MODULE(NODE_GYP_MODULE_NAME, Initialize)
