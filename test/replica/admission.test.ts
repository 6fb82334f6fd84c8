// The leader's write admission (src/replica/admission.ts): retries of one (session, seq) share one
// entry and all get the result; the same request delivered twice waits once, so it is answered
// once (a verified write's proof must not be overtaken by a second, plain reply).
import { describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../src/chain/body.js';
import { decodeCommand, encodeCommand, ResultCode } from '../../src/kv/command.js';
import { MsgpackCursor } from '../../src/lib/msgpack-cursor.js';
import { Admission } from '../../src/replica/admission.js';
import { bytes, sid } from '../helpers.js';

describe('write admission', () => {
  const tuple = encodeCommand({ op: 'put', session: sid(1), seq: 1, key: 'k', value: bytes('v') });
  const command = decodeCommand(tuple);
  if (typeof command === 'string') throw new Error(command);
  const answer = (admission: Admission) => admission.answer(encodeBatchBody(0, [tuple]), [ResultCode.OK], 5, () => undefined, new MsgpackCursor());

  it('a retry under another request id waits for the same command and both are answered', () => {
    const admission = new Admission({ pendingWritesMax: 10, pendingWriteBytesMax: 1 << 20 });
    expect(admission.admit(1, tuple, command, undefined)).toEqual({ kind: 'queued' });
    expect(admission.admit(2, tuple, command, undefined)).toEqual({ kind: 'waiting' });
    expect(answer(admission).map((reply) => reply.requestId)).toEqual([1, 2]);
  });

  it('the same request delivered twice is answered once', () => {
    const admission = new Admission({ pendingWritesMax: 10, pendingWriteBytesMax: 1 << 20 });
    admission.admit(1, tuple, command, undefined);
    expect(admission.admit(1, tuple, command, undefined)).toEqual({ kind: 'waiting' });
    expect(answer(admission)).toEqual([{ requestId: 1, ok: true, kind: 'write', result: ResultCode.OK, height: 5 }]);
  });
});
