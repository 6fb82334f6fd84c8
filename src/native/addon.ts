/**
 * The optional native addon (src/native/sha256.c, built by src/native/build.mjs), loaded once for
 * every user in this process, or undefined where it was not built or PAXCHAIN_NATIVE=off.
 */
import { createRequire } from 'node:module';

export interface NativeBinding {
  hashMany(data: Uint8Array, starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void;
  hashTagged(tag: Uint8Array, buffers: readonly Uint8Array[], starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void;
  hashInto(data: Uint8Array, out: Uint8Array): void;
  /** malloc_trim(0) on glibc: true if free pages went back to the OS. */
  releaseFreeMemory(): boolean;
}

function loadNative(): NativeBinding | undefined {
  if (process.env.PAXCHAIN_NATIVE === 'off') return undefined;
  const require = createRequire(import.meta.url);
  // Compiled code runs from dist/src/native; the addon is built next to the C source in src/native.
  for (const path of ['../../../src/native/build/Release/paxchain_sha256.node', './build/Release/paxchain_sha256.node']) {
    try {
      return require(path) as NativeBinding;
    } catch {
      // Try the next location; without one, callers fall back (node:crypto, no trim).
    }
  }
  return undefined;
}

export const nativeAddon: NativeBinding | undefined = loadNative();
