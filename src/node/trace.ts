/**
 * One line per protocol message for --trace: type, from -> to, ballot, slot or range, size.
 */
import { formatBallot } from '../paxos/ballot.js';
import type { Message } from '../replica/messages.js';

export function describeMessage(message: Message): string {
  const route = `${message.type} ${message.from}->${message.to}`;
  switch (message.type) {
    case 'prepare':
      return `${route} ballot=${formatBallot(message.ballot)} slots=${message.fromSlot}..`;
    case 'promise':
      return `${route} ballot=${formatBallot(message.ballot)} chosenThrough=${message.chosenThrough} entries=${message.accepted.length}${message.complete ? '' : ' more'} bytes=${message.accepted.reduce((sum, entry) => sum + entry.value.length, 0)}`;
    case 'prepare-reject':
      return `${route} ballot=${formatBallot(message.ballot)} promised=${formatBallot(message.promised)} reason=${message.reason}`;
    case 'accept':
      return `${route} ballot=${formatBallot(message.ballot)} slot=${message.slot} chosenThrough=${message.chosenThrough} bytes=${message.value.length}`;
    case 'accepted':
      return `${route} ballot=${formatBallot(message.ballot)} slot=${message.slot}`;
    case 'accept-reject':
      return `${route} ballot=${formatBallot(message.ballot)} slot=${message.slot} promised=${formatBallot(message.promised)} reason=${message.reason}`;
    case 'probe':
      return `${route} ballot=${formatBallot(message.ballot)}`;
    case 'probe-reply':
      return `${route} ballot=${formatBallot(message.ballot)} granted=${message.granted} leader=${message.leader}`;
    case 'heartbeat':
      return `${route} ballot=${formatBallot(message.ballot)} chosenThrough=${message.chosenThrough} head=${message.head.height} round=${message.round}`;
    case 'heartbeat-ack':
      return `${route} ballot=${formatBallot(message.ballot)} round=${message.round} head=${message.head?.height ?? '-'}`;
    case 'status':
      return `${route} promised=${formatBallot(message.promised)} leader=${message.leader} voting=${message.voting} head=${message.head?.height ?? '-'}`;
    case 'fetch':
      return `${route} heights=${message.fromHeight}..${message.fromHeight + message.maxBlocks - 1}`;
    case 'blocks':
      return `${route} heights=${message.fromHeight}..${message.fromHeight + message.records.length - 1} bytes=${message.records.reduce((sum, record) => sum + record.length, 0)}${message.oldestBody !== undefined ? ` pruned-below=${message.oldestBody}` : ''}`;
    case 'rejoin-request':
      return `${route} nonce=${message.nonce}`;
    case 'rejoin-grant':
      return `${route} ballot=${formatBallot(message.ballot)} horizon=${message.horizon}`;
    case 'hashes-request':
    case 'hashes':
      return `${route} heights=${message.heights.join(',')}`;
    case 'sign-request':
    case 'head-signature':
      return `${route} height=${message.height}`;
    case 'snapshot-request':
      return route;
    case 'snapshot-offer':
      return message.offer ? `${route} height=${message.offer.height} chunks=${message.offer.chunks} keys=${message.offer.keys}` : `${route} none`;
    case 'headers-request':
      return `${route} heights=${message.fromHeight}..${message.fromHeight + message.count - 1}`;
    case 'headers':
      return `${route} from=${message.fromHeight} bytes=${message.headers.length}`;
    case 'chunk-request':
      return `${route} height=${message.height} chunk=${message.index}`;
    case 'chunk':
      return `${route} height=${message.height} chunk=${message.index} bytes=${message.bytes?.length ?? 0}`;
  }
}
