// The one endpoint rule (src/lib/endpoint.ts), shared by `node start`, `--endpoints` and the client.
import { describe, expect, it } from 'vitest';
import { formatEndpoint, parseEndpoint, parseEndpointList } from '../../src/lib/endpoint.js';
import { ErrorCode, isPaxchainError } from '../../src/lib/errors.js';
import { parsePeers } from '../../src/node/config.js';

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isPaxchainError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('not refused');
}

describe('endpoints', () => {
  it('parses names, IPv4 and bracketed IPv6, and prints IPv6 with brackets', () => {
    expect(parseEndpoint('node-1.example:7001')).toEqual({ host: 'node-1.example', port: 7001 });
    expect(parseEndpoint(' 10.0.0.7:65535 ')).toEqual({ host: '10.0.0.7', port: 65_535 });
    expect(parseEndpoint('[::1]:7001')).toEqual({ host: '::1', port: 7001 });
    expect(formatEndpoint({ host: '::1', port: 7001 })).toBe('[::1]:7001');
    expect(formatEndpoint({ host: 'fe80::1', port: 1 })).toBe('[fe80::1]:1');
    expect(formatEndpoint({ host: '127.0.0.1', port: 7001 })).toBe('127.0.0.1:7001');
  });

  it('refuses a bare IPv6 address, a port out of range and a missing port, naming what was given', () => {
    expect(refusal(() => parseEndpoint('::1:7001', '--listen'))).toEqual({
      code: ErrorCode.INVALID_ARGUMENT,
      message: '--listen must be HOST:PORT with a port in 1..65535, got "::1:7001" (write an IPv6 address in brackets: [::1]:7001)',
    });
    expect(refusal(() => parseEndpoint('host:0')).message).toContain('got "host:0"');
    expect(refusal(() => parseEndpoint('host:70000')).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(refusal(() => parseEndpoint('host')).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('an absent list means the defaults, an empty one is refused, entries come back in the printed form', () => {
    expect(parseEndpointList(undefined, ['127.0.0.1:7001'])).toEqual(['127.0.0.1:7001']);
    expect(refusal(() => parseEndpointList('', ['127.0.0.1:7001'])).message).toMatch(/^--endpoints is empty/);
    expect(refusal(() => parseEndpointList(' , ', ['127.0.0.1:7001'])).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(parseEndpointList('[::1]:7001, 127.0.0.1:7002', [])).toEqual(['[::1]:7001', '127.0.0.1:7002']);
  });

  it('node peers follow the same rule', () => {
    expect(parsePeers('2=[::1]:7002,3=127.0.0.1:7003', 1).map((peer) => formatEndpoint(peer))).toEqual(['[::1]:7002', '127.0.0.1:7003']);
    expect(refusal(() => parsePeers('2=::1:7002', 1)).message).toContain('peer 2 must be HOST:PORT');
  });
});
