/**
 * The optional native addons (src/native/sha256.c and src/native/memory.cc, built by
 * src/native/build.mjs), each loaded once for every user in this process, or undefined where it was not built or PAXCHAIN_NATIVE=off.
 */
import { createRequire } from 'node:module';

export interface NativeBinding {
  hashMany(data: Uint8Array, starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void;
  hashTagged(tag: Uint8Array, buffers: readonly Uint8Array[], starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void;
  hashPlaced(data: Uint8Array, starts: Uint32Array, ends: Uint32Array, targets: Uint32Array, count: number): void;
  hashInto(data: Uint8Array, out: Uint8Array): void;
  /** malloc_trim(0) on glibc: true if free pages went back to the OS. */
  releaseFreeMemory(): boolean;
}

/** src/native/memory.cc. */
export interface MemoryBinding {
  /** v8::Isolate::LowMemoryNotification(): full collections that also shrink the young generation. */
  lowMemoryNotification(): void;
}

function loadNative<T>(name: string): T | undefined {
  if (process.env.PAXCHAIN_NATIVE === 'off') return undefined;
  const require = createRequire(import.meta.url);
  // Compiled code runs from dist/src/native; the addon is built next to the C source in src/native.
  for (const path of [`../../../src/native/build/Release/${name}.node`, `./build/Release/${name}.node`]) {
    try {
      return require(path) as T;
    } catch {
      // Try the next location; without one, callers fall back (node:crypto, no trim).
    }
  }
  return undefined;
}

export const nativeAddon: NativeBinding | undefined = loadNative<NativeBinding>('paxchain_sha256');

export const memoryAddon: MemoryBinding | undefined = loadNative<MemoryBinding>('paxchain_memory');
