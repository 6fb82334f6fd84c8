/**
 * `paxchain node start`: open (or create) the data directory, bootstrap a new cluster's genesis
 * if asked, replay the chain, and run the driver until SIGINT/SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { formatEndpoint } from '../lib/endpoint.js';
import { DEFAULT_DEDUP_CAPACITY, type GenesisBody, type GenesisConfig, STATE_BYTES_MAX, STATE_ENTRIES_MAX } from '../chain/body.js';
import type { MemberKey } from '../ledger/member-key.js';
import type { Member } from '../ledger/signing.js';
import type { HeadSigning } from '../replica/certify.js';
import { fastEd25519Signer, fastEd25519Verifier } from '../native/ed25519.js';
import { fastSha256 } from '../native/sha256.js';
import { replicaConfig } from '../replica/config.js';
import { Ledger } from '../ledger/ledger.js';
import { genesisBatch } from '../host/genesis.js';
import type { ChainStore } from '../storage/chain-store.js';
import { openDataDir } from '../storage/data-dir.js';
import { ClientConnection } from '../transport/index.js';
import type { NodeStatus } from '../transport/protocol.js';
import { NodeDriver, type PeerConfig, TICK_MS } from './driver.js';
import { type LogFormat, NodeLog } from './log.js';
import { type RestoreReport, restoreNode } from './restore.js';

/** This package's version (package.json), for paxchain_node_info; run as source or compiled (dist/). */
const PAXCHAIN_VERSION = ((): string => {
  const path = [new URL('../../package.json', import.meta.url), new URL('../../../package.json', import.meta.url)].map((url) => fileURLToPath(url)).find((candidate) => existsSync(candidate));
  return path ? (JSON.parse(readFileSync(path, 'utf8')) as { version?: string }).version ?? 'unknown' : 'unknown';
})();


/**
 * Blocks per second the scrub re-verifies by default: a pass over 100k blocks in under two
 * minutes, at a few percent of one core (hashing ~1.3 KB blocks at ~1 GB/s).
 */
export const SCRUB_BLOCKS_PER_SECOND_DEFAULT = 1_000;
/** Blocks between checkpoints by default: at the ~3,000 blocks/s of a loaded cluster, one every few seconds. */
export const CHECKPOINT_EVERY_DEFAULT = 10_000;

export interface NodeOptions {
  readonly id: number;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly peers: readonly PeerConfig[];
  readonly clusterId: string;
  readonly secret: Uint8Array;
  readonly bootstrap: boolean;
  /** createdAtMs of genesis: the same on every founding member, so they write the same block. */
  readonly genesisTimeMs: number;
  readonly logFormat: LogFormat;
  readonly trace: boolean;
  /** Catch-up flow control (blocks per second); undefined = no limit. */
  readonly catchupBlocksPerSecond?: number;
  /** State sync flow control (snapshot chunk bytes per second); undefined = no limit. */
  readonly snapshotBytesPerSecond?: number;
  /** Blocks between background checkpoints (0: only at a clean stop); default CHECKPOINT_EVERY_DEFAULT. */
  readonly checkpointEvery?: number;
  /** Replay from genesis at start, ignoring checkpoints. */
  readonly fullReplay?: boolean;
  /** Retention: keep the bodies of this many blocks below the newest checkpoint (undefined: all). */
  readonly retainBlocks?: number;
  /** Blocks per second the background scrub re-verifies (0: none); default SCRUB_BLOCKS_PER_SECOND_DEFAULT. */
  readonly scrubBlocksPerSecond?: number;
  /** Checkpoints kept in the store (default CHECKPOINTS_KEPT_DEFAULT). */
  readonly checkpointsKept?: number;
  /** Pinned genesis hash: any other genesis is refused. */
  readonly genesisHash?: Uint8Array;
  /** This member's Ed25519 key (src/ledger/member-key.ts): it signs heads for verified reads. */
  readonly memberKey?: MemberKey;
  /** The founding members' public keys, written into genesis by --bootstrap. */
  readonly memberKeys?: readonly Member[];
  /** The state limits --bootstrap writes into genesis (undefined: the defaults, the maxima). */
  readonly stateEntriesMax?: number;
  readonly stateBytesMax?: number;
  /** Serve /metrics and /healthz here (undefined: off). */
  readonly metrics?: { readonly host: string; readonly port: number };
}

export async function runNode(options: NodeOptions, log: NodeLog): Promise<NodeDriver> {
  const members = [...new Set([options.id, ...options.peers.map((peer) => peer.id)])].sort((a, b) => a - b);
  const store = await openDataDir(options.dataDir, fastSha256, { create: true });
  try {
    if (options.bootstrap) await bootstrap(store, options, members, log);
    // Random seeds for the in-memory hash indexes and the replica's PRNG: a client cannot aim
    // keys or sessions at one hash chain (hash flooding) of a seed it does not know.
    const report = await restoreNode(store, fastSha256, { hashSeed: randomBytes(4).readUInt32BE(0), fullReplay: options.fullReplay });
    const context = { ballot: '-', height: report.restored.ledger.head?.height ?? -1 };
    logRepairs(report, log, context);
    const genesis = report.restored.ledger.genesis;
    const genesisHash = report.restored.ledger.genesisHash;
    if (genesisHash && options.genesisHash && !bytesEqual(genesisHash, options.genesisHash)) {
      throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `the store in ${options.dataDir} holds genesis ${toHex(genesisHash)}, not the pinned ${toHex(options.genesisHash)}`);
    }
    if (genesis && genesis.clusterId !== options.clusterId) {
      throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `the store in ${options.dataDir} belongs to cluster "${genesis.clusterId}", not "${options.clusterId}"`);
    }
    for (const why of report.droppedCheckpoints) log.log('warn', `dropped an unusable checkpoint: ${why}`, context);
    if (store.prunedBelow > 1) log.log('info', `block bodies 1..${store.prunedBelow - 1} are pruned here (headers kept)`, context);
    const every = options.checkpointEvery ?? CHECKPOINT_EVERY_DEFAULT;
    if (options.retainBlocks !== undefined && every > 0 && options.retainBlocks < every) {
      log.log('warn', `--retain-blocks ${options.retainBlocks} is below --checkpoint-every ${every}: if the newest checkpoint is ever damaged, the older one cannot be replayed from (its blocks are pruned)`, context);
    }
    const from = report.checkpoint === undefined ? 'from genesis' : `after the checkpoint at height ${report.checkpoint}`;
    log.log('info', `replayed ${report.blocks} blocks ${from} in ${report.seconds.toFixed(2)}s`, context, {
      head: report.restored.ledger.head ? toHex(report.restored.ledger.head.hash).slice(0, 16) : 'none',
      voting: report.restored.acceptor.voting,
      accepted: report.restored.accepted.length,
    });
    const signing = headSigning(options, report.restored.ledger.genesis);
    const driver = new NodeDriver({
      signing,
      config: replicaConfig(options.id, members, {
        clusterId: options.clusterId,
        genesisHash: options.genesisHash,
        changeEvents: true,
        catchupBlocksPerTick: options.catchupBlocksPerSecond === undefined ? Infinity : (options.catchupBlocksPerSecond * TICK_MS) / 1000,
        snapshotBytesPerTick: options.snapshotBytesPerSecond === undefined ? Infinity : (options.snapshotBytesPerSecond * TICK_MS) / 1000,
      }),
      clusterId: options.clusterId,
      secret: options.secret,
      host: options.host,
      port: options.port,
      peers: options.peers,
      store,
      restored: report.restored,
      sha256: fastSha256,
      log,
      trace: options.trace,
      dataDir: options.dataDir,
      checkpointEvery: every,
      checkpointHeight: report.checkpoint,
      retainBlocks: options.retainBlocks,
      checkpointsKept: options.checkpointsKept,
      scrubBlocksPerSecond: options.scrubBlocksPerSecond ?? SCRUB_BLOCKS_PER_SECOND_DEFAULT,
      seed: randomBytes(4).readUInt32BE(0),
      metrics: options.metrics,
      version: PAXCHAIN_VERSION,
    });
    await driver.start();
    log.log('info', `listening on ${driver.endpoint}`, context, { cluster: options.clusterId, members });
    if (driver.metricsEndpoint) log.log('info', `metrics on http://${driver.metricsEndpoint}/metrics, health on http://${driver.metricsEndpoint}/healthz`, context);
    return driver;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}

/** What restore found broken and repaired, in the log. */
function logRepairs(report: RestoreReport, log: NodeLog, context: { ballot: string; height: number }): void {
  if (report.acceptorRepaired) {
    log.log('error', 'the stored acceptor state is unreadable; the promise it held is lost, so this node votes again only after rejoining', context);
  }
  if (report.repaired?.reason === 'NO_HEAD_POINTER') {
    log.log('error', `the head pointer of the stored chain was missing; rebuilt it at height ${report.repaired.height - 1} from the stored blocks, all verified; will vote again only after rejoining`, context);
  } else if (report.repaired) {
    log.log('error', `stored chain is corrupt at height ${report.repaired.height} (${report.repaired.reason}: ${report.repaired.message}); dropped blocks from there on, will refetch them from peers and vote again only after rejoining`, context);
  }
}

/**
 * Writes genesis for a new cluster, once. Refused if the peers already run a chain: a node that
 * lost its disk must rejoin as a learner, never bootstrap again (it would vote at once).
 */
async function bootstrap(store: ChainStore, options: NodeOptions, members: number[], log: NodeLog): Promise<void> {
  const config: GenesisConfig = {
    clusterId: options.clusterId,
    members,
    dedupCapacity: DEFAULT_DEDUP_CAPACITY,
    createdAtMs: options.genesisTimeMs,
    memberKeys: genesisKeys(options.memberKeys, members),
    // A new cluster always gets state limits (genesis version 3): the defaults unless told.
    stateEntriesMax: options.stateEntriesMax ?? STATE_ENTRIES_MAX,
    stateBytesMax: options.stateBytesMax ?? STATE_BYTES_MAX,
  };
  const wanted = Ledger.genesisRecord(fastSha256, config);
  if (store.head || (await store.headPointerMissing())) {
    const existing = await store.getRecord(0);
    if (!existing || !bytesEqual(existing, wanted)) {
      throw new PaxchainError(ErrorCode.ALREADY_EXISTS, `${options.dataDir} already holds a different genesis; refusing to bootstrap over it`);
    }
    return;
  }
  // Peers that cannot be reached are not evidence either way (a new cluster's nodes start
  // together). A reachable peer with blocks past genesis means the cluster has run: refused. A
  // peer that has promised a ballot means elections have started: this node may be a slow
  // starter or a wiped one, so it joins as a learner and gets its vote through rejoin.
  let voting = true;
  for (const peer of options.peers) {
    const status = await peerStatus(peer.host, peer.port);
    if (!status) continue;
    if ((status.head?.height ?? 0) > 0) {
      throw new PaxchainError(
        ErrorCode.ALREADY_EXISTS,
        `node ${peer.id} (${formatEndpoint(peer)}) already runs a chain at height ${status.head!.height}: refusing --bootstrap; start without it to rejoin as a learner`,
      );
    }
    if (status.promised !== '-') voting = false;
  }
  const { ops, head } = genesisBatch(store, fastSha256, config, voting);
  await store.backend.write(ops, { sync: true });
  store.committed(head);
  log.log('info', voting ? 'bootstrapped genesis for a new cluster' : 'bootstrapped genesis; peers already voted, so joining as a learner until rejoined', { ballot: '-', height: 0 }, {
    cluster: options.clusterId,
    members,
    hash: toHex(head.hash).slice(0, 16),
  });
}

/** The member keys genesis lists, in member order: all of them, or none for an unsigned cluster. */
function genesisKeys(listed: readonly Member[] | undefined, members: readonly number[]): Uint8Array[] {
  if (!listed) return [];
  return members.map((id) => {
    const member = listed.find((entry) => entry.node === id);
    if (!member) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `the member list has no key for node ${id}; every founding member needs one`);
    return member.publicKey;
  });
}

/** Head signing with this node's key, checked against the key genesis lists for it. */
function headSigning(options: NodeOptions, genesis: GenesisBody | undefined): HeadSigning | undefined {
  const key = options.memberKey;
  if (!key) return undefined;
  if (key.node !== options.id) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `the member key is node ${key.node}'s, not node ${options.id}'s`);
  const listed = genesis?.memberKeys?.[genesis.members.indexOf(options.id)];
  if (genesis && (!listed || !bytesEqual(listed, key.publicKey))) {
    throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `the member key's public key ${toHex(key.publicKey).slice(0, 16)} is not the one genesis lists for node ${options.id}`);
  }
  const sign = fastEd25519Signer(key.secretKey, key.publicKey);
  return { sign, verify: (publicKey, statement, signature) => fastEd25519Verifier.verify(publicKey, statement, signature) };
}

async function peerStatus(host: string, port: number): Promise<NodeStatus | undefined> {
  let connection: ClientConnection | undefined;
  try {
    connection = await ClientConnection.connect(host, port, { connectTimeoutMs: 500, requestTimeoutMs: 1000 });
    const reply = (await connection.request({ op: 'status' })) as { ok?: boolean; status?: NodeStatus };
    return reply.ok ? reply.status : undefined;
  } catch {
    return undefined;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}
