/**
 * The one msgpack configuration used for everything hashed, stored or sent: plain arrays, no
 * records, no string bundling, integers as numbers. Block bodies are hashed as stored, so this
 * encoder only has to be deterministic for the golden vectors (test/chain/golden.test.ts).
 */
import { Packr } from 'msgpackr';

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  bundleStrings: false,
  moreTypes: false,
  int64AsType: 'number',
  mapsAsObjects: true,
  // Decoded byte strings are views into the input, not copies: a copy of a 100-byte value costs
  // a malloc'ed backing store. Nothing long-lived keeps msgpackr output (the KV state copies
  // what it keeps into its own arena, src/kv/table.ts).
  copyBuffers: false,
});

export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes msgpack; returns an error string instead of throwing on garbage. */
export function unpackSafe(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: packr.unpack(bytes) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
