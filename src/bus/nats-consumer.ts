/**
 * Finds or creates the JetStream consumer of one durable group (`<durable>_<filter digest>`,
 * see durable-name.ts).
 *
 * - An existing consumer is used as it is, never updated: its other members may run another
 *   version, and rewriting its filter is what made members take or miss each other's
 *   events. One whose filter or ack policy is not what the digest stands for (made by hand,
 *   or by an older Gatehouse) is refused with ERR_BUS_UNAVAILABLE and left alone.
 * - A new consumer starts where the durable's previous group left off, so that changing the
 *   filter (an upgrade, whether rolling or stop-then-start) loses no event published in
 *   between; events both groups get reach the subscriber twice (at least once delivery).
 *   With no previous group it starts after
 *   what the stream held when its subscriber first tried to attach (nats-durable.ts). A consumer
 *   deleted under a running subscriber (the server's inactivity removal after a long
 *   partition, an operator) is made again where that subscriber last knew the group to be
 *   (`resume`), not with new events only.
 * - It gets `inactive_threshold`: the server removes a consumer nobody has pulled from for
 *   that long, so the groups an upgrade leaves behind do not pile up (the consumer of a
 *   version before groups gets it when the first group after it is made).
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { GatehouseError } from '../core/errors.ts';
import { isGroupOf } from './durable-name.ts';

export const ACK_WAIT_NS = 30_000 * 1_000_000;
export const MAX_DELIVER = 5;

export interface DurableGroupSpec {
  stream: string;
  /** The durable name subscribers gave. */
  durable: string;
  /** The consumer's name: the durable's group for this filter. */
  group: string;
  /** One subject, or `<prefix>.>` when several names are wanted (filtered by the subscriber). */
  filterSubject: string;
  inactiveThresholdMs: number;
}

/** Where a new consumer starts: a stream sequence, a time, or with new events only. */
export type StartPoint = { seq: number } | { time: string } | 'new';

/**
 * Makes sure the group's consumer exists and may be shared by this subscriber; throws
 * ERR_BUS_UNAVAILABLE when it may not. `resume`, asked only when the consumer has to be
 * made: where the consumer this subscriber was attached to had got (undefined: never attached).
 */
export async function ensureGroupConsumer(
  jsm: JetStreamManager,
  spec: DurableGroupSpec,
  resume?: () => Promise<StartPoint | undefined>,
  /** Where a group with no previous group starts (default: with new events only). */
  fresh?: () => Promise<StartPoint>,
): Promise<void> {
  const existing = await consumerInfo(jsm, spec.stream, spec.group);
  if (existing !== undefined) {
    checkShareable(existing, spec);
    return;
  }
  const start = await resume?.() ?? await previousGroupEnd(jsm, spec) ?? await fresh?.() ?? 'new';
  try {
    await jsm.consumers.add(spec.stream, consumerConfig(spec, start));
  } catch (error) {
    // Another member created it meanwhile, starting a few events apart from us: join theirs.
    const raced = await consumerInfo(jsm, spec.stream, spec.group);
    if (raced === undefined) throw error;
    checkShareable(raced, spec);
  }
}

function consumerConfig(spec: DurableGroupSpec, start: StartPoint): Partial<ConsumerConfig> {
  const base: Partial<ConsumerConfig> = {
    durable_name: spec.group,
    ack_policy: AckPolicy.Explicit,
    filter_subject: spec.filterSubject,
    ack_wait: ACK_WAIT_NS,
    max_deliver: MAX_DELIVER,
    inactive_threshold: spec.inactiveThresholdMs * 1_000_000,
  };
  if (start === 'new') return { ...base, deliver_policy: DeliverPolicy.New };
  if ('seq' in start) return { ...base, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.seq };
  return { ...base, deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time };
}

function checkShareable(info: ConsumerInfo, spec: DurableGroupSpec): void {
  if (info.config.filter_subject === spec.filterSubject && info.config.ack_policy === AckPolicy.Explicit) return;
  throw new GatehouseError('ERR_BUS_UNAVAILABLE', {
    detail: `JetStream consumer ${spec.group} on stream ${spec.stream} exists with filter ${JSON.stringify(info.config.filter_subject ?? '')} and ack policy ${info.config.ack_policy}, `
      + `not ${JSON.stringify(spec.filterSubject)} and explicit; left unchanged (delete it to let Gatehouse recreate it)`,
  });
}

/**
 * The start of a new group: where the most recently created other group of the same durable
 * (or the consumer of an older version, named just `<durable>`) left off. The most recent
 * one, not the furthest behind: it began where its own predecessor stopped, so it already
 * holds what the older ones left of the names it asks for, while an abandoned group's old
 * position would replay up to `inactive_threshold` worth of events.
 */
async function previousGroupEnd(jsm: JetStreamManager, spec: DurableGroupSpec): Promise<StartPoint | undefined> {
  let previous: ConsumerInfo | undefined;
  const unlimited: string[] = [];
  for await (const info of jsm.consumers.list(spec.stream)) {
    if (info.name === spec.group || !isGroupOf(spec.durable, info.name)) continue;
    if (previous === undefined || Date.parse(info.created) > Date.parse(previous.created)) previous = info;
    if ((info.config.inactive_threshold ?? 0) <= 0) unlimited.push(info.name);
  }
  // Consumers of versions before groups (named just `<durable>`) would stay forever once
  // their members are gone. An inactivity limit changes nothing for members still using one.
  for (const name of unlimited) await jsm.consumers.update(spec.stream, name, { inactive_threshold: spec.inactiveThresholdMs * 1_000_000 });
  return previous === undefined ? undefined : resumePoint(previous);
}

/** The first event `info`'s consumer has not settled: everything before it was acknowledged (or given up after MAX_DELIVER). */
export function resumePoint(info: ConsumerInfo): StartPoint {
  if (info.num_ack_pending === 0) return { seq: info.delivered.stream_seq + 1 };
  if (info.ack_floor.stream_seq > 0) return { seq: info.ack_floor.stream_seq + 1 };
  // Nothing acknowledged in order since it was created: from where it began.
  const c = info.config;
  if (c.opt_start_seq !== undefined && c.opt_start_seq > 0) return { seq: c.opt_start_seq };
  if (c.opt_start_time !== undefined) return { time: c.opt_start_time };
  return c.deliver_policy === DeliverPolicy.All ? { seq: 1 } : { time: info.created };
}

async function consumerInfo(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
    throw error;
  }
}
