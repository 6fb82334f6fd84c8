/**
 * A zero-allocation msgpack reader for the hot paths (replay and append read every command of
 * every block through it). It reads the types paxchain encodes and skips every valid msgpack
 * value, so a body that msgpackr can decode is never called malformed here.
 *
 * Typed reads (readUint, readStr, ...) return a "no" value (-1 / false) without moving when the
 * next value has another type; truncated input throws MalformedMsgpack. Payload ranges of str and
 * bin values are left in `start` and `length`.
 */
import { readU32, readU64 } from './bytes.js';

export class MalformedMsgpack extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMsgpack';
  }
}

/** Deepest nesting skipValue() follows (paxchain bodies nest 3 deep). */
const SKIP_DEPTH_MAX = 32;
/**
 * Whole sizes, type byte included, of the msgpack values whose size the type byte alone fixes:
 * float 32/64, uint and int 8/16/32/64, fixext 1/2/4/8/16.
 */
const FIXED_VALUE_BYTES: ReadonlyMap<number, number> = new Map([
  [0xca, 5], [0xcb, 9],
  [0xcc, 2], [0xcd, 3], [0xce, 5], [0xcf, 9],
  [0xd0, 2], [0xd1, 3], [0xd2, 5], [0xd3, 9],
  [0xd4, 3], [0xd5, 4], [0xd6, 6], [0xd7, 10], [0xd8, 18],
]);

export class MsgpackCursor {
  bytes: Uint8Array = new Uint8Array(0);
  position = 0;
  end = 0;
  /** Payload of the last str/bin read. */
  start = 0;
  length = 0;
  /** 8 bytes for decoding float64s (copied here: no DataView per input buffer). */
  private readonly floatBytes = new Uint8Array(8);
  private readonly floatView = new DataView(this.floatBytes.buffer);

  reset(bytes: Uint8Array, position = 0, end = bytes.length): this {
    this.bytes = bytes;
    this.position = position;
    this.end = end;
    return this;
  }

  get atEnd(): boolean {
    return this.position >= this.end;
  }

  private need(count: number): void {
    if (this.position + count > this.end) throw new MalformedMsgpack(`truncated at byte ${this.position}`);
  }

  private u8(at: number): number {
    return this.bytes[at]!;
  }

  private u16(at: number): number {
    return (this.bytes[at]! << 8) | this.bytes[at + 1]!;
  }

  private u32(at: number): number {
    return readU32(this.bytes, at);
  }

  /** Array header: returns the element count, or -1 if the next value is not an array. */
  readArrayLength(): number {
    this.need(1);
    const type = this.u8(this.position);
    if (type >= 0x90 && type <= 0x9f) {
      this.position++;
      return type & 0x0f;
    }
    if (type === 0xdc) {
      this.need(3);
      const length = this.u16(this.position + 1);
      this.position += 3;
      return length;
    }
    if (type === 0xdd) {
      this.need(5);
      const length = this.u32(this.position + 1);
      this.position += 5;
      return length;
    }
    return -1;
  }

  /**
   * A non-negative integer below 2^53 (any msgpack int width, or a float64 holding such an
   * integer, which is how msgpackr writes integers above 2^32). Returns -1 otherwise.
   */
  readUint(): number {
    this.need(1);
    const at = this.position;
    const type = this.u8(at);
    if (type <= 0x7f) {
      this.position++;
      return type;
    }
    switch (type) {
      case 0xcc:
        this.need(2);
        this.position += 2;
        return this.u8(at + 1);
      case 0xcd:
        this.need(3);
        this.position += 3;
        return this.u16(at + 1);
      case 0xce:
        this.need(5);
        this.position += 5;
        return this.u32(at + 1);
      case 0xcf: {
        this.need(9);
        const value = readU64(this.bytes, at + 1);
        if (value < 0) return -1;
        this.position += 9;
        return value;
      }
      case 0xcb: {
        this.need(9);
        for (let i = 0; i < 8; i++) this.floatBytes[i] = this.bytes[at + 1 + i]!;
        const value = this.floatView.getFloat64(0);
        if (!Number.isSafeInteger(value) || value < 0 || Object.is(value, -0)) return -1;
        this.position += 9;
        return value;
      }
      default:
        return -1;
    }
  }

  /** A str value: sets start/length to its UTF-8 payload. False if the next value is not a str. */
  readStr(): boolean {
    this.need(1);
    const type = this.u8(this.position);
    if (type >= 0xa0 && type <= 0xbf) return this.takePayload(1, type & 0x1f);
    return this.readSized(type, 0xd9);
  }

  /** A bin value: sets start/length to its payload. False if the next value is not a bin. */
  readBin(): boolean {
    this.need(1);
    return this.readSized(this.u8(this.position), 0xc4);
  }

  /**
   * A str or bin with an 8-, 16- or 32-bit length: `first` is the family's 8-bit type byte (the
   * 16- and 32-bit ones follow it). False, without moving, for any other type.
   */
  private readSized(type: number, first: number): boolean {
    const at = this.position;
    if (type === first) {
      this.need(2);
      return this.takePayload(2, this.u8(at + 1));
    }
    if (type === first + 1) {
      this.need(3);
      return this.takePayload(3, this.u16(at + 1));
    }
    if (type === first + 2) {
      this.need(5);
      return this.takePayload(5, this.u32(at + 1));
    }
    return false;
  }

  private takePayload(header: number, length: number): true {
    this.need(header + length);
    this.start = this.position + header;
    this.length = length;
    this.position += header + length;
    return true;
  }

  readNil(): boolean {
    this.need(1);
    if (this.u8(this.position) !== 0xc0) return false;
    this.position++;
    return true;
  }

  /** Skips one value of any type. Throws MalformedMsgpack on truncation, bad type or depth. */
  skipValue(depth = 0): void {
    if (depth > SKIP_DEPTH_MAX) throw new MalformedMsgpack(`nesting deeper than ${SKIP_DEPTH_MAX}`);
    this.need(1);
    const at = this.position;
    const type = this.u8(at);
    if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) {
      this.position++;
      return;
    }
    if ((type >= 0x80 && type <= 0x8f) || (type >= 0x90 && type <= 0x9f)) {
      this.position++;
      this.skipItems((type & 0x0f) * (type <= 0x8f ? 2 : 1), depth);
      return;
    }
    if (type >= 0xa0 && type <= 0xbf) return this.skipBytes(1 + (type & 0x1f));
    const fixed = FIXED_VALUE_BYTES.get(type);
    if (fixed !== undefined) return this.skipBytes(fixed);
    switch (type) {
      case 0xc4:
      case 0xd9:
        this.need(2);
        return this.skipBytes(2 + this.u8(at + 1));
      case 0xc5:
      case 0xda:
        this.need(3);
        return this.skipBytes(3 + this.u16(at + 1));
      case 0xc6:
      case 0xdb:
        this.need(5);
        return this.skipBytes(5 + this.u32(at + 1));
      case 0xc7:
        this.need(2);
        return this.skipBytes(3 + this.u8(at + 1));
      case 0xc8:
        this.need(3);
        return this.skipBytes(4 + this.u16(at + 1));
      case 0xc9:
        this.need(5);
        return this.skipBytes(6 + this.u32(at + 1));
      case 0xdc:
      case 0xde: {
        this.need(3);
        const count = this.u16(at + 1);
        this.position += 3;
        return this.skipItems(type === 0xde ? count * 2 : count, depth);
      }
      case 0xdd:
      case 0xdf: {
        this.need(5);
        const count = this.u32(at + 1);
        this.position += 5;
        return this.skipItems(type === 0xdf ? count * 2 : count, depth);
      }
      default:
        throw new MalformedMsgpack(`invalid type byte 0x${type.toString(16)} at ${at}`);
    }
  }

  private skipBytes(count: number): void {
    this.need(count);
    this.position += count;
  }

  private skipItems(count: number, depth: number): void {
    // Every item takes at least one byte: a count beyond what is left is truncation, caught
    // before looping (bounds the loop by the input size, not by a length field).
    if (count > this.end - this.position) throw new MalformedMsgpack(`container of ${count} items overruns the input`);
    for (let i = 0; i < count; i++) this.skipValue(depth + 1);
  }
}

