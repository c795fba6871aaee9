/**
 * The per-request block check: a synchronous lookup in an in-memory set of active
 * blocks, kept in sync across instances by the bus (`detect.block.added` / `lifted`,
 * applied at once) and by re-reading the store every `refreshMs` (catches events an
 * instance missed while it was down or disconnected, and expiries).
 *
 * @example
 *   const blocks = createBlockCheck({ store, bus });
 *   await blocks.start();
 *   // in a stage:  if (blocks.isBlocked(ctx.clientAddress, ctx.identity?.subject)) throw …
 */
import type { Logger } from 'pino';
import type { EventBus } from '../bus/types.ts';
import { toGatehouseError } from '../core/errors.ts';
import { createDetectRepo } from '../store/repos/detect-repo.ts';
import type { Store } from '../store/types.ts';
import { blockPrefixLength, canonicalBlockAddress, clientNetwork, ipv4Number, ipv4Prefix } from '../gateway/http/client-network.ts';
import { ipv6Prefix } from '../ratelimit/ipv6-prefix.ts';
import { RecentIds } from './counters.ts';
import type { Block, BlockKind } from './types.ts';

export interface BlockCheck {
  /**
   * The active block on this address (or a prefix holding it: an IPv6 client's /64, a /48…, an
   * IPv4 client's /24…) or subject, if any. Synchronous: one lookup per kind, plus one per
   * prefix length blocked in the client's address family.
   */
  isBlocked(address: string | undefined, subject?: string): { kind: BlockKind; value: string; expiresAt: number; id: string } | undefined;
  /** Adds a block to this instance's set at once (the detector calls it after storing one). */
  add(block: Pick<Block, 'id' | 'kind' | 'value' | 'expiresAt'>): void;
  /**
   * Calls `listener` after a block was added and after each re-read of the store (which may
   * bring blocks whose events this instance missed), for what is already open and will not
   * ask again (WebSocket tunnels). Returns the function that stops it.
   */
  onBlocksChanged(listener: () => void): () => void;
  remove(id: string): void;
  /** Re-reads active blocks from the store. */
  refresh(): Promise<void>;
  start(): Promise<void>;
  stop(): void;
  readonly size: number;
}

export interface BlockCheckOptions {
  store: Store;
  bus?: EventBus;
  refreshMs?: number;
  logger?: Logger;
  now?: () => number;
}

type Entry = { id: string; kind: BlockKind; value: string; expiresAt: number };
/**
 * Address blocks of prefixes are kept apart, by family and prefix length (64 for an IPv6 /64, 48
 * for a /48, 24 for an IPv4 /24…): a client pays for one lookup per length that has a block in
 * its own family, and none while there is none.
 */
type BlockSets = Record<BlockKind, Map<string, Entry[]>> & { prefixes: PrefixBlocks[]; prefixes4: PrefixBlocks[] };
/** The blocks on prefixes of one length; kept longest first, so the most specific block is the one reported. */
type PrefixBlocks = { length: number; map: Map<string, Entry[]> };

const emptySets = (): BlockSets => ({ address: new Map(), subject: new Map(), prefixes: [], prefixes4: [] });

export function createBlockCheck(options: BlockCheckOptions): BlockCheck {
  const now = options.now ?? Date.now;
  const repo = createDetectRepo(options.store.db);
  /** Per kind, value → blocks (several may overlap; the longest wins). */
  let byKind = emptySets();
  let timer: NodeJS.Timeout | undefined;
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of listeners) {
      try { listener(); } catch (err) { options.logger?.error({ err }, 'detect: block listener failed'); }
    }
  };
  let unsubscribe: (() => void) | undefined;
  let refreshing: Promise<void> | undefined;
  /**
   * Blocks added and lifted while a refresh reads the store: its result may predate them, so
   * they are applied to it again before it replaces the current set.
   */
  let during: ({ add: Entry } | { remove: string })[] | undefined;
  /**
   * Blocks lifted here: an announcement of one that arrives after its lift (on NATS a publish
   * retried after an unacknowledged attempt is delivered again, and may come after later events)
   * must not put it back until the next refresh, which may be minutes away.
   */
  const lifted = new RecentIds(10_000);

  // Runs twice per request: one map lookup per kind, no key built, the clock read only on a hit.
  const lookup = (map: Map<string, Entry[]>, value: string): Entry | undefined => {
    const list = map.get(value);
    if (!list) return undefined;
    const t = now();
    let best: Entry | undefined;
    for (const e of list) if (e.expiresAt > t && (!best || e.expiresAt > best.expiresAt)) best = e;
    return best;
  };
  const addEntry = (sets: BlockSets, e: Entry) => {
    // A kind this version does not know (a newer peer's) can never match a lookup here.
    if (e.kind !== 'address' && e.kind !== 'subject') return;
    // Keyed as accept spells client addresses: rows stored by older versions and peers' events
    // may spell them otherwise.
    const canonical = e.kind === 'address' ? canonicalBlockAddress(e.value) : undefined;
    const value = canonical ?? e.value;
    const length = canonical === undefined ? undefined : blockPrefixLength(canonical);
    let map = sets[e.kind];
    if (length !== undefined) {
      const family = value.includes(':') ? sets.prefixes : sets.prefixes4;
      let blocks = family.find((p) => p.length === length);
      if (blocks === undefined) {
        blocks = { length, map: new Map() };
        family.push(blocks);
        family.sort((x, y) => y.length - x.length);
      }
      map = blocks.map;
    }
    const list = (map.get(value) ?? []).filter((x) => x.id !== e.id);
    list.push(e);
    map.set(value, list);
  };
  const removeEntry = (sets: BlockSets, id: string) => {
    for (const map of [sets.address, sets.subject, ...sets.prefixes.map((p) => p.map), ...sets.prefixes4.map((p) => p.map)]) {
      for (const [k, list] of map) {
        const rest = list.filter((e) => e.id !== id);
        if (rest.length !== list.length) (rest.length ? map.set(k, rest) : map.delete(k));
      }
    }
    // An emptied length costs clients nothing more.
    sets.prefixes = sets.prefixes.filter((p) => p.map.size !== 0);
    sets.prefixes4 = sets.prefixes4.filter((p) => p.map.size !== 0);
  };
  /** The block on a prefix holding this IPv6 address, if any. */
  const prefixLookup = (address: string): Entry | undefined => {
    const network = clientNetwork(address);
    const prefixes = byKind.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const { length, map } = prefixes[i]!;
      const prefix = length === 64 ? network : ipv6Prefix(network, length);
      // NAT64 and zoned addresses are no network (clientNetwork leaves them whole): no prefix holds them.
      if (prefix === undefined) return undefined;
      const hit = lookup(map, prefix);
      if (hit) return hit;
    }
    return undefined;
  };
  /** The block on a prefix holding this IPv4 address, if any. */
  const prefixLookup4 = (address: string): Entry | undefined => {
    const n = ipv4Number(address);
    const prefixes = byKind.prefixes4;
    for (let i = 0; i < prefixes.length; i++) {
      const hit = lookup(prefixes[i]!.map, ipv4Prefix(n, prefixes[i]!.length));
      if (hit) return hit;
    }
    return undefined;
  };

  const check: BlockCheck = {
    isBlocked(address, subject) {
      if (address) {
        const hit = lookup(byKind.address, address)
          ?? (address.includes(':')
            ? (byKind.prefixes.length !== 0 ? prefixLookup(address) : undefined)
            : (byKind.prefixes4.length !== 0 ? prefixLookup4(address) : undefined));
        if (hit) return hit;
      }
      return subject ? lookup(byKind.subject, subject) : undefined;
    },
    add(b) {
      if (lifted.has(b.id)) return;
      const e: Entry = { id: b.id, kind: b.kind, value: b.value, expiresAt: b.expiresAt };
      addEntry(byKind, e);
      during?.push({ add: e });
      changed();
    },
    onBlocksChanged(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    remove(id) {
      lifted.repeat(id);
      removeEntry(byKind, id);
      during?.push({ remove: id });
    },
    async refresh() {
      refreshing ??= (async () => {
        during = [];
        try {
          const next = emptySets();
          for (const b of await repo.activeBlocks(now())) addEntry(next, b);
          for (const op of during) ('add' in op ? addEntry(next, op.add) : removeEntry(next, op.remove));
          // Swapped whole: a block lifted elsewhere (event missed) disappears here too.
          byKind = next;
          changed();
        } finally {
          during = undefined;
          refreshing = undefined;
        }
      })();
      return refreshing;
    },
    async start() {
      unsubscribe = options.bus?.subscribe(['detect.block.added', 'detect.block.lifted'], (event) => {
        if (event.name === 'detect.block.added') {
          const p = event.payload;
          check.add({ id: p.blockId, kind: p.kind, value: p.value, expiresAt: Date.parse(p.expiresAt) });
        } else if (event.name === 'detect.block.lifted') {
          check.remove(event.payload.blockId);
        }
      });
      await check.refresh();
      timer = setInterval(() => {
        check.refresh().catch((err: unknown) => options.logger?.warn({ err: toGatehouseError(err) }, 'detect: cannot refresh blocks from the store; keeping the current set'));
      }, options.refreshMs ?? 5000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      unsubscribe?.();
    },
    get size() {
      let n = 0;
      for (const list of byKind.address.values()) n += list.length;
      for (const list of byKind.subject.values()) n += list.length;
      for (const { map } of [...byKind.prefixes, ...byKind.prefixes4]) for (const list of map.values()) n += list.length;
      return n;
    },
  };
  return check;
}
