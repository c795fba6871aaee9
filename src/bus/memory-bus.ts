/**
 * The in-process event bus (the default, `memory:`). Each event is copied once at publish
 * time into a deep-frozen snapshot holding what NATS would deliver (src/bus/snapshot.ts):
 * a subscriber never sees later changes to the publisher's object, and since nobody can
 * change the snapshot, every subscriber shares it. Delivery happens on later event-loop turns.
 *
 * Durable subscriptions are emulated within the process: members of a durable group (same
 * durable name and same event names, as on NATS: durable-name.ts) take events in turn, and
 * while a group has no member its events wait in a bounded backlog.
 * Nothing survives a restart; use NATS for that.
 */
import type { Logger } from 'pino';
import type { Envelope, EventName, GatehouseEvents } from '../core/events.ts';
import { createEnvelope, instanceId, nameFilter } from './envelope.ts';
import { checkPayload } from './payload-schema.ts';
import { Fifo } from './fifo.ts';
import { snapshot } from './snapshot.ts';
import { SubscriberQueue } from './subscriber-queue.ts';
import { durableGroupName } from './durable-name.ts';
import type { BusHealth, BusStats, EventBus, EventBusOptions, EventHandler, SubscribeOptions } from './types.ts';
import { IdleTracker } from './idle-tracker.ts';
import { handlerTimeout, isHandlerTimeout } from './handler-timeout.ts';
import { maxEventBytes, oversizedBy } from './event-size.ts';
import { OverflowLog } from './buffer-budget.ts';

/** Queued envelopes are frozen snapshots already: nothing to decode. */
const asIs = (event: Envelope): Envelope => event;

interface Member {
  accepts: (name: EventName) => boolean;
  queue: SubscriberQueue<Envelope>;
  /** A full inbox drops events: logged (rate-limited) as on NATS, not only counted. */
  overflow: OverflowLog;
}

interface DurableGroup {
  members: Member[];
  next: number;
  /** The filter every member shares; decides what the backlog keeps while nobody listens. */
  accepts: (name: EventName) => boolean;
  backlog: Fifo<Envelope>;
  overflow: OverflowLog;
}

export class MemoryEventBus implements EventBus {
  readonly #instance: string;
  readonly #logger: Logger | undefined;
  readonly #maxBuffer: number;
  readonly #handlerTimeoutMs: number;
  readonly #maxEventBytes: number;
  readonly #live = new Set<Member>();
  readonly #groups = new Map<string, DurableGroup>();
  /** Events handed to subscriber inboxes and not yet handled: what flush() waits for. */
  readonly #idle = new IdleTracker();
  /**
   * Events waiting in durable backlogs for a member, kept apart from #idle: flush() used to
   * wait for #idle to fall to the backlog size at its call, so an event a handler published
   * into a backlog meanwhile kept it (and close()) waiting until the timeout.
   */
  #backlogged = 0;
  readonly #stats = { published: 0, dropped: 0, publishFailures: 0, handlerErrors: 0, handlerTimeouts: 0, malformed: 0 };
  #closed = false;
  /** wants() per event name, until the next subscribe or unsubscribe. */
  readonly #wanted = new Map<EventName, boolean>();

  constructor(options: EventBusOptions) {
    this.#instance = instanceId(options.instanceId);
    this.#logger = options.logger;
    this.#maxBuffer = options.maxBuffer ?? 10_000;
    this.#handlerTimeoutMs = handlerTimeout(options.handlerTimeoutMs);
    this.#maxEventBytes = maxEventBytes(options.maxEventBytes);
  }

  publish<N extends EventName>(name: N, payload: GatehouseEvents[N]): void {
    try {
      if (this.#closed) {
        this.#stats.dropped += 1;
        return;
      }
      // Throws (a counted drop) for what JSON would refuse, as on NATS.
      const copy = snapshot(payload);
      // What a NATS subscriber would refuse on receipt is refused here, where it can be traced to its publisher.
      const checked = checkPayload(name, copy);
      if (!checked.ok) {
        this.#stats.malformed += 1;
        this.#logger?.error({ code: 'ERR_BUS_EVENT_INVALID', problem: checked.problem, event: name }, 'event bus: invalid event refused');
        return;
      }
      // A copy without undocumented keys is partly new: snapshot it again to freeze all of it.
      const clean = checked.payload === copy ? copy : snapshot(checked.payload);
      const event = Object.freeze(createEnvelope(this.#instance, name, clean as GatehouseEvents[N])) as Envelope;
      // What NATS would refuse for its size is refused here too, the same way.
      const bytes = oversizedBy(event, this.#maxEventBytes);
      if (bytes !== undefined) {
        this.#stats.dropped += 1;
        this.#logger?.error({ code: 'ERR_BUS_EVENT_TOO_LARGE', event: name, eventId: event.id, bytes, limit: this.#maxEventBytes }, 'event bus: event over the size limit dropped');
        return;
      }
      this.#stats.published += 1;
      for (const member of this.#live) {
        if (member.accepts(name)) this.#deliver(member, event);
      }
      for (const group of this.#groups.values()) this.#deliverToGroup(group, event);
    } catch (error) {
      this.#stats.dropped += 1;
      this.#logger?.error({ err: error, event: name }, 'event bus: event could not be published');
    }
  }

  wants(name: EventName): boolean {
    let wanted = this.#wanted.get(name);
    if (wanted === undefined) {
      wanted = false;
      for (const member of this.#live) if (member.accepts(name)) wanted = true;
      // A group takes its events into its backlog while it has no member: it wants them too.
      for (const group of this.#groups.values()) if (group.accepts(name)) wanted = true;
      this.#wanted.set(name, wanted);
    }
    return wanted && !this.#closed;
  }

  subscribe(names: EventName[] | '*', handler: EventHandler, options: SubscribeOptions = {}): () => void {
    if (this.#closed) throw new Error('event bus is closed');
    this.#wanted.clear();
    const accepts = nameFilter(names);
    const member: Member = {
      accepts,
      queue: new SubscriberQueue<Envelope>(handler, asIs, this.#maxBuffer, {
        handlerError: (error, event) => {
          this.#stats.handlerErrors += 1;
          if (isHandlerTimeout(error)) this.#stats.handlerTimeouts += 1;
          this.#logger?.error({ err: error, event: event.name, eventId: event.id }, 'event bus: subscriber failed');
        },
        malformed: () => {},
        settled: (count) => this.#idle.done(count),
      }, this.#handlerTimeoutMs),
      overflow: new OverflowLog(this.#logger, 'subscriber'),
    };
    const durable = options.durable;
    if (durable === undefined) {
      this.#live.add(member);
      return () => {
        if (!this.#live.delete(member)) return;
        this.#wanted.clear();
        this.#idle.done(member.queue.stop().length);
      };
    }
    const name = durableGroupName(durable, names);
    let group = this.#groups.get(name);
    if (group === undefined) {
      group = { members: [], next: 0, accepts, backlog: new Fifo(), overflow: new OverflowLog(this.#logger, 'backlog') };
      this.#groups.set(name, group);
    }
    group.members.push(member);
    // Hand over what waited while the group had no member (or none that wanted it).
    const waiting = group.backlog.drain();
    this.#backlogged -= waiting.length;
    for (const event of waiting) this.#deliverToGroup(group, event);
    const g = group;
    return () => {
      const index = g.members.indexOf(member);
      if (index === -1) return;
      g.members.splice(index, 1);
      // Durable means not lost: unhandled events go to another member or back to the backlog.
      const left = member.queue.stop();
      this.#idle.done(left.length);
      for (const event of left) this.#deliverToGroup(g, event);
    };
  }

  #deliver(member: Member, event: Envelope): boolean {
    if (member.queue.enqueue(event)) {
      this.#idle.add(1);
      return true;
    }
    this.#stats.dropped += 1;
    member.overflow.dropped({ buffered: member.queue.length, maxBuffer: this.#maxBuffer });
    return false;
  }

  #deliverToGroup(group: DurableGroup, event: Envelope): void {
    const name = event.name;
    const count = group.members.length;
    for (let i = 0; i < count; i++) {
      const member = group.members[(group.next + i) % count] as Member;
      if (member.accepts(name)) {
        group.next = (group.next + i + 1) % count;
        this.#deliver(member, event);
        return;
      }
    }
    if (!group.accepts(name)) return;
    if (group.backlog.length >= this.#maxBuffer) {
      this.#stats.dropped += 1;
      group.overflow.dropped({ buffered: group.backlog.length, maxBuffer: this.#maxBuffer });
      return;
    }
    group.backlog.push(event);
    this.#backlogged += 1;
  }

  async health(): Promise<BusHealth> {
    return this.#closed ? { ok: false, latencyMs: 0, detail: 'closed' } : { ok: true, latencyMs: 0 };
  }

  stats(): BusStats {
    return { ...this.#stats, buffered: this.#idle.pending + this.#backlogged };
  }

  /** Memory: resolves when every queued event has been handled (events waiting in durable backlogs for a member excluded). */
  flush(timeoutMs = 10_000): Promise<void> {
    return this.#idle.waitUntilAtMost(0, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.flush(5_000);
    } catch (error) {
      this.#logger?.warn({ err: error }, 'event bus: undelivered events at close');
    }
    for (const member of this.#live) this.#stats.dropped += member.queue.stop().length;
    this.#live.clear();
    for (const group of this.#groups.values()) {
      for (const member of group.members) this.#stats.dropped += member.queue.stop().length;
      this.#stats.dropped += group.backlog.drain().length;
    }
    this.#backlogged = 0;
    this.#groups.clear();
  }
}
