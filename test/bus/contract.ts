/**
 * The one contract every EventBus backend must meet. Each backend's test file calls
 * `busContract` with a factory; the same assertions run against memory and NATS.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { Envelope, GatewayRequestEvent } from '../../src/core/events.ts';
import type { EventBus, EventBusOptions } from '../../src/bus/types.ts';

export interface BusFactory {
  /** A fresh bus for one test; `extra` adds options (logger, limits) to the backend's own. */
  create(instanceId: string, extra?: Partial<EventBusOptions>): Promise<EventBus>;
  /**
   * Another instance attached to the same backend (NATS: new connection, same stream);
   * for the memory bus, the same object, since memory does not cross processes.
   */
  peer(of: EventBus, instanceId: string): Promise<EventBus>;
  /** Whether closing and re-creating a bus keeps durable state (NATS yes, memory no). */
  durableAcrossRestart: boolean;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function requestEvent(n: number): GatewayRequestEvent {
  return {
    requestId: `req-${n}`,
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    routeId: 'mail',
    method: 'GET',
    path: `/mail/${n}`,
    status: 200,
    durationMs: 1.5,
    clientAddress: '192.0.2.10',
    stage: 'forward',
    bytesIn: 0,
    bytesOut: 512,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A real pino logger whose lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export function busContract(name: string, factory: BusFactory, skip: false | string): void {
  describe(`event bus contract: ${name}`, { skip }, () => {
    const opened: EventBus[] = [];
    const open = async (id = 'test-a', extra?: Partial<EventBusOptions>) => {
      const bus = await factory.create(id, extra);
      opened.push(bus);
      return bus;
    };
    const peer = async (of: EventBus, id: string) => {
      const bus = await factory.peer(of, id);
      if (bus !== of) opened.push(bus);
      return bus;
    };

    before(async () => factory.setup?.());
    after(async () => {
      for (const bus of opened) await bus.close();
      await factory.teardown?.();
    });

    it('delivers every event to a subscriber, in publication order, with the payload intact', async () => {
      const bus = await open();
      const got: Envelope[] = [];
      bus.subscribe(['gateway.request'], (e) => {
        got.push(e);
      });
      await bus.flush();
      for (let i = 0; i < 200; i++) bus.publish('gateway.request', requestEvent(i));
      await bus.flush();
      await waitFor(() => got.length === 200, 10_000, '200 events');
      assert.deepEqual(got.map((e) => (e.payload as GatewayRequestEvent).requestId), Array.from({ length: 200 }, (_, i) => `req-${i}`));
      assert.deepEqual(got[7]?.payload, requestEvent(7));
    });

    it('fills the envelope: UUIDv7 id carrying the publication time, ISO time, instance and name', async () => {
      const bus = await open('instance-env');
      const got: Envelope[] = [];
      bus.subscribe('*', (e) => {
        got.push(e);
      });
      await bus.flush();
      const before = Date.now();
      bus.publish('config.rejected', { source: 'test.yaml', problems: [{ path: 'routes.0.upstream', message: 'Required' }] });
      await bus.flush();
      await waitFor(() => got.length === 1);
      const after = Date.now();
      const e = got[0] as Envelope;
      assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const idMs = parseInt(e.id.replace(/-/g, '').slice(0, 12), 16);
      assert.ok(idMs >= before && idMs <= after, `id timestamp ${idMs} outside [${before}, ${after}]`);
      assert.equal(e.time, new Date(Date.parse(e.time)).toISOString());
      assert.ok(Math.abs(Date.parse(e.time) - idMs) <= 5);
      assert.equal(e.instance, 'instance-env');
      assert.equal(e.name, 'config.rejected');
      assert.deepEqual(e.payload, { source: 'test.yaml', problems: [{ path: 'routes.0.upstream', message: 'Required' }] });
    });

    it('gives a wildcard subscriber every event and a named subscriber only its names', async () => {
      const bus = await open();
      const all: string[] = [];
      const some: string[] = [];
      bus.subscribe('*', (e) => {
        all.push(e.name);
      });
      bus.subscribe(['config.reloaded', 'config.rejected'], (e) => {
        some.push(e.name);
      });
      await bus.flush();
      bus.publish('gateway.request', requestEvent(1));
      bus.publish('config.reloaded', { generation: 2, source: 'signal', routes: 3, changedKeys: ['routes'] });
      bus.publish('ratelimit.exceeded', { scope: 'edge', policy: 'edge', requestId: 'r', clientAddress: '192.0.2.1', limit: 10, retryAfterMs: 100 });
      bus.publish('config.rejected', { source: 'signal', problems: [] });
      await bus.flush();
      await waitFor(() => all.length === 4 && some.length === 2);
      assert.deepEqual(all, ['gateway.request', 'config.reloaded', 'ratelimit.exceeded', 'config.rejected']);
      assert.deepEqual(some, ['config.reloaded', 'config.rejected']);
    });

    it('stops delivering after unsubscribe', async () => {
      const bus = await open();
      const kept: number[] = [];
      const gone: number[] = [];
      bus.subscribe(['gateway.request'], (e) => {
        kept.push(Number((e.payload as GatewayRequestEvent).requestId.slice(4)));
      });
      const unsubscribe = bus.subscribe(['gateway.request'], (e) => {
        gone.push(Number((e.payload as GatewayRequestEvent).requestId.slice(4)));
      });
      await bus.flush();
      bus.publish('gateway.request', requestEvent(1));
      await bus.flush();
      await waitFor(() => gone.length === 1 && kept.length === 1);
      unsubscribe();
      unsubscribe(); // idempotent
      bus.publish('gateway.request', requestEvent(2));
      await bus.flush();
      await waitFor(() => kept.length === 2);
      await sleep(100);
      assert.deepEqual(gone, [1]);
      assert.deepEqual(kept, [1, 2]);
    });

    it('a throwing, a rejecting and a slow subscriber neither break nor delay the publisher or other subscribers', async () => {
      const bus = await open();
      let slowStarted = false;
      const good: number[] = [];
      bus.subscribe(['gateway.request'], () => {
        throw new Error('subscriber bug');
      });
      bus.subscribe(['gateway.request'], async () => {
        throw new Error('async subscriber bug');
      });
      bus.subscribe(['gateway.request'], async () => {
        slowStarted = true;
        await sleep(1_000);
      });
      bus.subscribe(['gateway.request'], (e) => {
        good.push(Number((e.payload as GatewayRequestEvent).requestId.slice(4)));
      });
      await bus.flush();
      const errorsBefore = bus.stats().handlerErrors;
      for (let i = 0; i < 20; i++) {
        assert.doesNotThrow(() => bus.publish('gateway.request', requestEvent(i)));
      }
      // Dispatch is deferred: nothing has run yet when publish returns.
      assert.equal(slowStarted, false);
      await waitFor(() => good.length === 20, 10_000, 'good subscriber');
      assert.deepEqual(good, Array.from({ length: 20 }, (_, i) => i));
      await waitFor(() => bus.stats().handlerErrors - errorsBefore >= 40, 10_000, 'handler errors counted');
      assert.equal(slowStarted, true);
    });

    it('a subscriber whose inbox is full (a stuck handler) loses new events on every backend the same way: counted in dropped and logged as buffer full, never silently', async () => {
      const { logger, lines } = captureLogger();
      const bus = await open('full-inbox', { logger, maxBuffer: 10 });
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const got: number[] = [];
      bus.subscribe(['config.reloaded'], async (e) => {
        got.push((e.payload as { generation: number }).generation);
        await gate;
      });
      await bus.flush();
      // In rounds below maxBuffer, so that the NATS publish buffer itself never overflows.
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 8; i++) bus.publish('config.reloaded', { generation: round * 8 + i, source: 'signal', routes: 0, changedKeys: [] });
        // Not flush: in process it waits for the stuck handler.
        await waitFor(() => bus.stats().published >= (round + 1) * 8, 10_000, 'a round accepted by the backend');
      }
      await waitFor(() => bus.stats().dropped > 0, 10_000, 'a drop at the full inbox');
      release();
      const line = lines.find((l) => l.msg === 'event bus: buffer full; events dropped');
      assert.ok(line, 'the drop is logged');
      assert.equal(line.queue, 'subscriber');
      await waitFor(() => got.length + bus.stats().dropped >= 24, 10_000, 'every event handled or dropped');
      assert.ok(got.length >= 10, `the events that fitted are handled (${got.length})`);
      assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i), 'in order, the later ones dropped');
    });

    it('publish never throws, even for a payload that cannot be serialized; the drop is counted', async () => {
      const bus = await open();
      const cyclic: Record<string, unknown> = { requestId: 'x' };
      cyclic.self = cyclic;
      const droppedBefore = bus.stats().dropped;
      assert.doesNotThrow(() => bus.publish('gateway.request', cyclic as unknown as GatewayRequestEvent));
      assert.equal(bus.stats().dropped, droppedBefore + 1);
      const deepCycle: Record<string, unknown> = { requestId: 'y', inner: { list: [] as unknown[] } };
      (deepCycle.inner as { list: unknown[] }).list.push(deepCycle);
      assert.doesNotThrow(() => bus.publish('gateway.request', deepCycle as unknown as GatewayRequestEvent));
      assert.doesNotThrow(() => bus.publish('gateway.request', { ...requestEvent(1), bytesIn: 10n } as unknown as GatewayRequestEvent));
      assert.equal(bus.stats().dropped, droppedBefore + 3);
    });

    it('an event over the size limit is refused by every backend the same way: a counted drop, logged as ERR_BUS_EVENT_TOO_LARGE with its size, never delivered; later events flow', async () => {
      const { logger, lines } = captureLogger();
      const bus = await open('oversized', { logger });
      const got: Envelope[] = [];
      bus.subscribe(['config.rejected'], (e) => {
        got.push(e);
      });
      await bus.flush();
      const dropped = bus.stats().dropped;
      // Over the default 1 000 000 bytes, yet under NATS's own max_payload (1 MiB): NATS used to take it.
      bus.publish('config.rejected', { source: 'too-big', problems: [{ path: 'routes', message: 'x'.repeat(1_000_500) }] });
      bus.publish('config.rejected', { source: 'big-but-fits', problems: [{ path: 'routes', message: 'x'.repeat(990_000) }] });
      bus.publish('config.rejected', { source: 'small', problems: [] });
      await bus.flush();
      await waitFor(() => got.length === 2, 10_000, 'the events within the limit');
      await sleep(200);
      assert.deepEqual(got.map((e) => (e.payload as { source: string }).source), ['big-but-fits', 'small']);
      assert.equal(bus.stats().dropped, dropped + 1);
      const refusal = lines.find((l) => l.code === 'ERR_BUS_EVENT_TOO_LARGE');
      assert.ok(refusal, 'logged with its code');
      assert.equal(refusal.event, 'config.rejected');
      assert.ok(Number(refusal.bytes) > 1_000_000);
      assert.ok(!JSON.stringify(refusal).includes('too-big'), 'the payload is not logged');
    });

    it('honours a configured maxEventBytes on every backend', async () => {
      const bus = await open('small-limit', { maxEventBytes: 4096 });
      const got: Envelope[] = [];
      bus.subscribe(['config.rejected'], (e) => {
        got.push(e);
      });
      await bus.flush();
      bus.publish('config.rejected', { source: 'over', problems: [{ path: 'p', message: 'é'.repeat(2_100) }] });
      bus.publish('config.rejected', { source: 'under', problems: [{ path: 'p', message: 'x'.repeat(3_000) }] });
      await bus.flush();
      await waitFor(() => got.length === 1, 10_000, 'the event within the limit');
      await sleep(200);
      assert.deepEqual(got.map((e) => (e.payload as { source: string }).source), ['under']);
      await assert.rejects(async () => open('bad-limit', { maxEventBytes: 10 }), TypeError);
    });

    it('publishing under a name that is no event (NATS wildcards, whitespace, CRLF: subject injection) is refused on every backend: counted as malformed, never delivered, flush settles', async () => {
      const bus = await open('injection');
      const got: string[] = [];
      bus.subscribe('*', (e) => {
        got.push(e.name);
      });
      await bus.flush();
      const payload = { generation: 1, source: 'signal', routes: 0, changedKeys: [] };
      for (const name of ['config.reloaded.>', 'config.*', 'config.reloaded x', 'config.reloaded\r\nPUB gatehouse.config.reloaded 2\r\n{}', '__proto__']) {
        assert.doesNotThrow(() => bus.publish(name as 'config.reloaded', payload));
      }
      bus.publish('config.reloaded', payload);
      await bus.flush(5_000);
      await waitFor(() => got.length === 1, 10_000, 'the genuine event');
      await sleep(200);
      assert.deepEqual(got, ['config.reloaded']);
      assert.equal(bus.stats().malformed, 5);
      assert.equal(bus.stats().buffered, 0);
      assert.throws(() => bus.subscribe(['config.>' as 'config.reloaded'], () => {}), TypeError);
      assert.throws(() => bus.subscribe(['config.reloaded x' as 'config.reloaded'], () => {}, { durable: 'injected' }), TypeError);
    });

    it('changing the published object after publish changes nothing a subscriber receives', async () => {
      const bus = await open();
      const got: Envelope[] = [];
      bus.subscribe(['config.reloaded'], (e) => {
        got.push(e);
      });
      await bus.flush();
      const payload = { generation: 7, source: 'signal', routes: 3, changedKeys: ['routes'] };
      bus.publish('config.reloaded', payload);
      payload.generation = 8;
      payload.changedKeys.push('listeners');
      await bus.flush();
      await waitFor(() => got.length === 1);
      assert.deepEqual(got[0]?.payload, { generation: 7, source: 'signal', routes: 3, changedKeys: ['routes'] });
    });

    it('a subscriber that tampers with its event cannot change what another subscriber receives', async () => {
      const bus = await open();
      const tampered = new Set<string>();
      const seen: unknown[] = [];
      bus.subscribe(['config.reloaded'], (e) => {
        // Either the event is immutable (the attempt throws, a counted handler error) or it is this subscriber's own copy.
        try {
          const p = e.payload as unknown as Record<string, unknown>;
          p.generation = 666;
          (p.changedKeys as string[]).push('tampered');
        } finally {
          tampered.add(e.id);
        }
      });
      bus.subscribe(['config.reloaded'], async (e) => {
        await waitFor(() => tampered.has(e.id), 10_000, 'the tampering subscriber');
        seen.push(JSON.parse(JSON.stringify(e.payload)));
      });
      await bus.flush();
      bus.publish('config.reloaded', { generation: 2, source: 'signal', routes: 1, changedKeys: ['routes'] });
      await bus.flush();
      await waitFor(() => seen.length === 1, 10_000, 'the other subscriber');
      assert.deepEqual(seen[0], { generation: 2, source: 'signal', routes: 1, changedKeys: ['routes'] });
    });

    it('a payload with an own __proto__ key (prototype pollution) arrives as plain data, without the undocumented key', async () => {
      const bus = await open();
      const got: Envelope[] = [];
      bus.subscribe(['gateway.request'], (e) => {
        got.push(e);
      });
      await bus.flush();
      const hostile = JSON.parse(`{${JSON.stringify(requestEvent(1)).slice(1, -1)},"__proto__":{"isAdmin":true,"status":403}}`) as GatewayRequestEvent;
      bus.publish('gateway.request', hostile);
      await bus.flush();
      await waitFor(() => got.length === 1);
      const payload = got[0]?.payload as unknown as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(payload), Object.prototype);
      assert.equal(payload.isAdmin, undefined);
      assert.equal(payload.status, 200);
      assert.equal(Object.hasOwn(payload, '__proto__'), false);
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    });

    it('an event whose payload has the wrong shape (a number for a string, a missing field) never reaches a typed subscriber: refused as ERR_BUS_EVENT_INVALID, counted, logged without the payload', async () => {
      const { logger, lines } = captureLogger();
      const bus = await open('shapes', { logger });
      const got: Envelope[] = [];
      bus.subscribe(['gateway.request'], (e) => {
        got.push(e);
      });
      await bus.flush();
      bus.publish('gateway.request', { ...requestEvent(1), path: 12345 } as unknown as GatewayRequestEvent);
      const { method: _method, ...noMethod } = requestEvent(2);
      bus.publish('gateway.request', noMethod as GatewayRequestEvent);
      bus.publish('gateway.request', { ...requestEvent(3), blob: 'z'.repeat(100_000) } as GatewayRequestEvent);
      bus.publish('gateway.request', requestEvent(4));
      await bus.flush();
      await waitFor(() => got.length === 2, 10_000, 'the valid events');
      await sleep(200);
      assert.deepEqual(got.map((e) => (e.payload as GatewayRequestEvent).requestId), ['req-3', 'req-4']);
      assert.deepEqual(got[0]?.payload, requestEvent(3), 'an undocumented (huge) field is left out');
      assert.equal(bus.stats().malformed, 2);
      const refusals = lines.filter((l) => l.code === 'ERR_BUS_EVENT_INVALID');
      assert.deepEqual(refusals.map((l) => [l.event, l.problem]), [['gateway.request', 'payload path: not of the documented type'], ['gateway.request', 'payload method: missing']]);
      assert.ok(!/req-1|req-2|192\.0\.2\.10/.test(JSON.stringify(lines)), 'the payload is not logged');
    });

    it('flush settles when a handler publishes, during the flush, an event for a durable group that has no member now (re-entrant publish into a backlog); the group gets it when a member returns', async () => {
      const durable = `resting-${Math.random().toString(36).slice(2, 8)}`;
      const bus = await open('reentrant');
      const kept: string[] = [];
      const unsubscribe = bus.subscribe(['config.rejected'], (e) => {
        kept.push((e.payload as { source: string }).source);
      }, { durable });
      await bus.flush();
      unsubscribe();
      // Only for its own trigger: on NATS other tests' buses publish on the same subjects.
      const stopTrigger = bus.subscribe(['config.reloaded'], (e) => {
        if ((e.payload as { source: string }).source === 'reentrant-trigger') bus.publish('config.rejected', { source: 'published-by-a-handler', problems: [] });
      });
      await bus.flush();
      bus.publish('config.reloaded', { generation: 1, source: 'reentrant-trigger', routes: 0, changedKeys: [] });
      await bus.flush(5_000);
      await waitFor(() => bus.stats().published === 2, 10_000, 'the handler\'s publish');
      await bus.flush(5_000);
      bus.subscribe(['config.rejected'], (e) => {
        kept.push((e.payload as { source: string }).source);
      }, { durable });
      await waitFor(() => kept.length === 1, 10_000, 'the kept event');
      stopTrigger();
      assert.deepEqual(kept, ['published-by-a-handler']);
    });

    it('a durable subscriber receives the events published while it was away', async () => {
      const durable = `audit-${Math.random().toString(36).slice(2, 8)}`;
      const first = await open('first');
      const seen: string[] = [];
      const unsubscribe = first.subscribe(['gateway.request'], (e) => {
        seen.push((e.payload as GatewayRequestEvent).requestId);
      }, { durable });
      await first.flush();
      first.publish('gateway.request', requestEvent(0));
      await first.flush();
      await waitFor(() => seen.length === 1, 10_000, 'first event');
      unsubscribe();
      let publisher = first;
      let second = first;
      if (factory.durableAcrossRestart) {
        await first.close();
        publisher = await open('publisher');
      }
      for (let i = 1; i <= 5; i++) publisher.publish('gateway.request', requestEvent(i));
      await publisher.flush();
      if (factory.durableAcrossRestart) second = await open('second');
      second.subscribe(['gateway.request'], (e) => {
        seen.push((e.payload as GatewayRequestEvent).requestId);
      }, { durable });
      await waitFor(() => seen.length === 6, 10_000, 'events published while away');
      await sleep(200);
      assert.deepEqual(seen, ['req-0', 'req-1', 'req-2', 'req-3', 'req-4', 'req-5']);
    });

    it('two subscribers with the same durable name share the events: each event handled once, both get work', async () => {
      const durable = `workers-${Math.random().toString(36).slice(2, 8)}`;
      const a = await open('worker-a');
      const b = await peer(a, 'worker-b');
      const byA: string[] = [];
      const byB: string[] = [];
      const work = (into: string[]) => async (e: Envelope) => {
        into.push((e.payload as GatewayRequestEvent).requestId);
        await sleep(2);
      };
      a.subscribe(['gateway.request'], work(byA), { durable });
      b.subscribe(['gateway.request'], work(byB), { durable });
      await a.flush();
      await b.flush();
      const n = 200;
      for (let i = 0; i < n; i++) a.publish('gateway.request', requestEvent(i));
      await a.flush();
      await waitFor(() => byA.length + byB.length >= n, 20_000, 'all events handled');
      await sleep(300);
      const all = [...byA, ...byB];
      console.log(`# ${name}: durable group split ${byA.length} / ${byB.length} of ${n}`);
      assert.equal(all.length, n, 'no event handled twice');
      assert.equal(new Set(all).size, n, 'every event handled');
      assert.ok(byA.length > 0 && byB.length > 0, `both members got work (${byA.length}/${byB.length})`);
    });

    it('two instances on one durable name asking for different events (a rolling upgrade) each get every event they asked for and none other', async () => {
      const durable = `upgrade-${Math.random().toString(36).slice(2, 8)}`;
      const older = await open('older-version');
      const newer = await peer(older, 'newer-version');
      const byOlder: Envelope[] = [];
      const byNewer: Envelope[] = [];
      // The newer version subscribes to one more event name (one subject vs. the whole prefix on NATS).
      older.subscribe(['config.reloaded'], (e) => {
        byOlder.push(e);
      }, { durable });
      newer.subscribe(['config.reloaded', 'config.rejected'], (e) => {
        byNewer.push(e);
      }, { durable });
      await older.flush();
      await newer.flush();
      const n = 20;
      for (let i = 0; i < n; i++) {
        older.publish('config.reloaded', { generation: i, source: 'signal', routes: 1, changedKeys: [] });
        newer.publish('config.rejected', { source: `file-${i}`, problems: [] });
      }
      await older.flush();
      await newer.flush();
      const done = () => byOlder.length >= n && byNewer.length >= 2 * n;
      await waitFor(done, 20_000, 'every event to both versions').catch(() => {});
      await sleep(300);
      const generations = (got: Envelope[]) => got.filter((e) => e.name === 'config.reloaded').map((e) => (e.payload as { generation: number }).generation).sort((a, b) => a - b);
      const all = Array.from({ length: n }, (_, i) => i);
      assert.deepEqual(byOlder.map((e) => e.name).filter((name) => name !== 'config.reloaded'), [], 'the older version got only its event');
      assert.deepEqual(generations(byOlder), all, 'the older version got each of its events once');
      assert.deepEqual(generations(byNewer), all, 'the newer version got each config.reloaded once');
      assert.equal(byNewer.filter((e) => e.name === 'config.rejected').length, n, 'the newer version got every config.rejected');
      assert.equal(byNewer.length, 2 * n);
    });

    it('a durable subscriber whose handler never settles fails that delivery after handlerTimeoutMs (logged with name and id, not the payload) and handles the next events', async () => {
      const durable = `hung-${Math.random().toString(36).slice(2, 8)}`;
      const { logger, lines } = captureLogger();
      const bus = await open('hung', { logger, handlerTimeoutMs: 200 });
      const handled: number[] = [];
      let hung = 0;
      bus.subscribe(['config.reloaded'], (e) => {
        const generation = (e.payload as { generation: number }).generation;
        if (generation === 1 && hung === 0) {
          hung += 1;
          return new Promise<void>(() => {});
        }
        handled.push(generation);
        return Promise.resolve();
      }, { durable });
      await bus.flush();
      bus.publish('config.reloaded', { generation: 1, source: 'secret-source-text', routes: 0, changedKeys: [] });
      bus.publish('config.reloaded', { generation: 2, source: 'signal', routes: 0, changedKeys: [] });
      await bus.flush();
      await waitFor(() => handled.includes(2), 10_000, 'the event after the hung one');
      assert.equal(bus.stats().handlerTimeouts, 1);
      assert.ok(bus.stats().handlerErrors >= 1);
      const line = lines.find((l) => (l.err as { code?: string } | undefined)?.code === 'ERR_BUS_HANDLER_TIMEOUT');
      assert.ok(line, 'the timeout is logged with its code');
      assert.equal(line.event, 'config.reloaded');
      assert.match(String(line.eventId), /^[0-9a-f-]{36}$/);
      assert.ok(!JSON.stringify(lines).includes('secret-source-text'), 'the payload is not logged');
      if (factory.durableAcrossRestart) {
        // NATS: the failed delivery is redelivered like one whose handler threw.
        await waitFor(() => handled.includes(1), 10_000, 'redelivery of the timed-out event');
      }
    });

    it('refuses a handler timeout that JetStream\'s ack_wait would overtake', async () => {
      await assert.rejects(async () => open('bad-timeout', { handlerTimeoutMs: 60_000 }), TypeError);
    });

    it('close delivers the events published just before it to the live subscribers that were waiting for them, on every backend (graceful shutdown loses none)', async () => {
      const bus = await factory.create('closing');
      const got: number[] = [];
      bus.subscribe(['config.reloaded'], async (e) => {
        // A handler that does I/O: the inbox is still full when close() is called.
        await new Promise((resolve) => setImmediate(resolve));
        got.push((e.payload as { generation: number }).generation);
      });
      await bus.flush();
      for (let i = 0; i < 50; i++) bus.publish('config.reloaded', { generation: i, source: 'signal', routes: 0, changedKeys: [] });
      await bus.close();
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
      assert.equal(bus.stats().dropped, 0);
    });

    it('reports health and refuses nothing after close (publish is a counted drop)', async () => {
      const bus = await factory.create('health');
      const h = await bus.health();
      assert.equal(h.ok, true, h.detail);
      assert.ok(h.latencyMs >= 0);
      await bus.close();
      await bus.close();
      assert.equal((await bus.health()).ok, false);
      const dropped = bus.stats().dropped;
      assert.doesNotThrow(() => bus.publish('gateway.request', requestEvent(1)));
      assert.equal(bus.stats().dropped, dropped + 1);
    });
  });
}
