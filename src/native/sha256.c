/*
 * Batch SHA-256 for the hot paths (replay, verify, state digest), built as a Node-API addon
 * against the OpenSSL that Node itself links. Why: one node:crypto call costs ~0.9 us whatever
 * the input size, while the hash of a 100-byte message with SHA-NI costs ~0.1 us; hashing a whole
 * block's messages in one call removes the per-call overhead. The low-level SHA256_* functions
 * are used on purpose: OpenSSL 3's one-shot SHA256() fetches a provider per call and is 4x slower.
 *
 * hashMany(data: Uint8Array, starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array)
 *   message i is data[starts[i], ends[i]); digest i goes to out[32i, 32i+32).
 * hashTagged(tag, buffers: Uint8Array[], starts, ends, count, out): undefined
 *   message i is tag || buffers[i][starts[i], ends[i]) (block headers and bodies, hashed where
 *   they lie: no copy into a scratch buffer).
 * hashPlaced(data, starts: Uint32Array, ends: Uint32Array, targets: Uint32Array, count): undefined
 *   message i is data[starts[i], ends[i]); its digest goes to data[targets[i], +32) before
 *   message i + 1 is read (a Merkle path, children first, in one call: src/kv/state-trie.ts).
 * hashInto(data: Uint8Array, out: Uint8Array): undefined
 * releaseFreeMemory(): boolean
 *   glibc's malloc_trim(0): gives the free pages of every malloc arena back to the OS; true if it
 *   released any. Why here: after a connection flood the node frees tens of MB of socket buffers
 *   that glibc would otherwise keep for the life of the process (src/node/memory-reclaim.ts). On
 *   other C libraries it does nothing and returns false.
 *
 * Every argument is checked before any byte is read; a bad call throws TypeError.
 */
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static int typed_array(napi_env env, napi_value value, napi_typedarray_type want, uint8_t **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  void *raw = NULL;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok) return 0;
  if (type != want) return 0;
  *data = (uint8_t *)raw;
  return 1;
}

static void digest(const uint8_t *data, size_t length, uint8_t *out) {
  SHA256_CTX context;
  SHA256_Init(&context);
  SHA256_Update(&context, data, length);
  SHA256_Final(out, &context);
}

static napi_value HashMany(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) {
    napi_throw_type_error(env, NULL, "hashMany(data, starts, ends, count, out)");
    return NULL;
  }
  uint8_t *data = NULL, *starts_raw = NULL, *ends_raw = NULL, *out = NULL;
  size_t data_length = 0, starts_length = 0, ends_length = 0, out_length = 0;
  uint32_t count = 0;
  if (!typed_array(env, argv[0], napi_uint8_array, &data, &data_length) ||
      !typed_array(env, argv[1], napi_uint32_array, &starts_raw, &starts_length) ||
      !typed_array(env, argv[2], napi_uint32_array, &ends_raw, &ends_length) ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok ||
      !typed_array(env, argv[4], napi_uint8_array, &out, &out_length)) {
    napi_throw_type_error(env, NULL, "hashMany: expected (Uint8Array, Uint32Array, Uint32Array, number, Uint8Array)");
    return NULL;
  }
  const uint32_t *starts = (const uint32_t *)starts_raw;
  const uint32_t *ends = (const uint32_t *)ends_raw;
  if (count > starts_length || count > ends_length || out_length < (size_t)count * 32) {
    napi_throw_type_error(env, NULL, "hashMany: count exceeds starts, ends or out");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (starts[i] > ends[i] || ends[i] > data_length) {
      napi_throw_type_error(env, NULL, "hashMany: every range must satisfy start <= end <= data.length");
      return NULL;
    }
  }
  for (uint32_t i = 0; i < count; i++) digest(data + starts[i], ends[i] - starts[i], out + (size_t)i * 32);
  return NULL;
}

static napi_value HashTagged(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) {
    napi_throw_type_error(env, NULL, "hashTagged(tag, buffers, starts, ends, count, out)");
    return NULL;
  }
  uint8_t *tag = NULL, *starts_raw = NULL, *ends_raw = NULL, *out = NULL;
  size_t tag_length = 0, starts_length = 0, ends_length = 0, out_length = 0;
  uint32_t count = 0, buffers_length = 0;
  bool is_array = false;
  if (!typed_array(env, argv[0], napi_uint8_array, &tag, &tag_length) ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &buffers_length) != napi_ok ||
      !typed_array(env, argv[2], napi_uint32_array, &starts_raw, &starts_length) ||
      !typed_array(env, argv[3], napi_uint32_array, &ends_raw, &ends_length) ||
      napi_get_value_uint32(env, argv[4], &count) != napi_ok ||
      !typed_array(env, argv[5], napi_uint8_array, &out, &out_length)) {
    napi_throw_type_error(env, NULL, "hashTagged: expected (Uint8Array, Uint8Array[], Uint32Array, Uint32Array, number, Uint8Array)");
    return NULL;
  }
  const uint32_t *starts = (const uint32_t *)starts_raw;
  const uint32_t *ends = (const uint32_t *)ends_raw;
  if (count > buffers_length || count > starts_length || count > ends_length || out_length < (size_t)count * 32) {
    napi_throw_type_error(env, NULL, "hashTagged: count exceeds buffers, starts, ends or out");
    return NULL;
  }
  /* One pass: each buffer is checked right before it is hashed (on a bad one the call throws and
   * `out` holds digests for the earlier messages only). */
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint8_t *data = NULL;
    size_t data_length = 0;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        !typed_array(env, element, napi_uint8_array, &data, &data_length) ||
        starts[i] > ends[i] || ends[i] > data_length) {
      napi_throw_type_error(env, NULL, "hashTagged: every buffer must be a Uint8Array holding its range");
      return NULL;
    }
    SHA256_CTX context;
    SHA256_Init(&context);
    SHA256_Update(&context, tag, tag_length);
    SHA256_Update(&context, data + starts[i], ends[i] - starts[i]);
    SHA256_Final(out + (size_t)i * 32, &context);
  }
  return NULL;
}

/* How many messages ahead hashPlaced prefetches (a few hash times cover one memory round trip). */
#define PREFETCH_AHEAD 4

/* hashPlaced(data, starts, ends, targets, count): message i is data[starts[i], ends[i]); its digest
 * is written to data[targets[i], targets[i] + 32) before message i + 1 is read, so a later message
 * may contain an earlier digest (a Merkle path hashed bottom-up in one call). Every range is
 * checked before anything is hashed. */
static napi_value HashPlaced(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  uint8_t *data = NULL, *starts_raw = NULL, *ends_raw = NULL, *targets_raw = NULL;
  size_t data_length = 0, starts_length = 0, ends_length = 0, targets_length = 0;
  uint32_t count = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 ||
      !typed_array(env, argv[0], napi_uint8_array, &data, &data_length) ||
      !typed_array(env, argv[1], napi_uint32_array, &starts_raw, &starts_length) ||
      !typed_array(env, argv[2], napi_uint32_array, &ends_raw, &ends_length) ||
      !typed_array(env, argv[3], napi_uint32_array, &targets_raw, &targets_length) ||
      napi_get_value_uint32(env, argv[4], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "hashPlaced: expected (Uint8Array, Uint32Array, Uint32Array, Uint32Array, number)");
    return NULL;
  }
  const uint32_t *starts = (const uint32_t *)starts_raw;
  const uint32_t *ends = (const uint32_t *)ends_raw;
  const uint32_t *targets = (const uint32_t *)targets_raw;
  if (count > starts_length || count > ends_length || count > targets_length) {
    napi_throw_type_error(env, NULL, "hashPlaced: count exceeds starts, ends or targets");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (starts[i] > ends[i] || ends[i] > data_length || targets[i] > data_length || data_length - targets[i] < 32) {
      napi_throw_type_error(env, NULL, "hashPlaced: every range and target must lie within data");
      return NULL;
    }
  }
  uint8_t out[32];
  for (uint32_t i = 0; i < count; i++) {
    // The messages of a Merkle path lie in scattered records: ask for the ones PREFETCH_AHEAD
    // messages on (and their digests' targets) while this one is hashed, hiding memory latency.
    if (i + PREFETCH_AHEAD < count) {
      const uint8_t *next = data + starts[i + PREFETCH_AHEAD];
      __builtin_prefetch(next);
      __builtin_prefetch(next + 64);
      __builtin_prefetch(data + targets[i + PREFETCH_AHEAD], 1);
    }
    digest(data + starts[i], ends[i] - starts[i], out);
    memcpy(data + targets[i], out, 32);
  }
  return NULL;
}

static napi_value HashInto(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *data = NULL, *out = NULL;
  size_t data_length = 0, out_length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      !typed_array(env, argv[0], napi_uint8_array, &data, &data_length) ||
      !typed_array(env, argv[1], napi_uint8_array, &out, &out_length) || out_length < 32) {
    napi_throw_type_error(env, NULL, "hashInto(data: Uint8Array, out: Uint8Array(32))");
    return NULL;
  }
  digest(data, data_length, out);
  return NULL;
}

static napi_value ReleaseFreeMemory(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "hashMany", NAPI_AUTO_LENGTH, HashMany, NULL, &fn);
  napi_set_named_property(env, exports, "hashMany", fn);
  napi_create_function(env, "hashTagged", NAPI_AUTO_LENGTH, HashTagged, NULL, &fn);
  napi_set_named_property(env, exports, "hashTagged", fn);
  napi_create_function(env, "hashPlaced", NAPI_AUTO_LENGTH, HashPlaced, NULL, &fn);
  napi_set_named_property(env, exports, "hashPlaced", fn);
  napi_create_function(env, "hashInto", NAPI_AUTO_LENGTH, HashInto, NULL, &fn);
  napi_set_named_property(env, exports, "hashInto", fn);
  napi_create_function(env, "releaseFreeMemory", NAPI_AUTO_LENGTH, ReleaseFreeMemory, NULL, &fn);
  napi_set_named_property(env, exports, "releaseFreeMemory", fn);
  return exports;
}
