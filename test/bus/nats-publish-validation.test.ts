/**
 * On NATS an event whose payload every subscriber would refuse (a wrong type, a missing
 * field) is refused when it is published, as in process: the refusal is logged by the
 * instance that published it (where the bug is) and the event never takes a place in the
 * stream. Before, it was stored and each receiving instance refused it, none naming the
 * publisher. Real NATS JetStream, its own stream, deleted afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import type { GatewayRequestEvent } from '../../src/core/events.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { captureLogger, requestEvent } from './contract.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const options = { stream: `GH_TEST_PV_${run}`, subjectPrefix: `ghtest.pv${run}`, maxAgeMs: 10 * 60 * 1000 };

async function streamMessages(): Promise<number> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(options.stream)).state.messages;
  } finally {
    await nc.close();
  }
}

describe('NATS: invalid payloads refused at publish', { skip }, () => {
  let publisher: EventBus;
  let receiver: EventBus;
  const pub = captureLogger();
  const rec = captureLogger();

  before(async () => {
    publisher = await createNatsEventBus(NATS_URL, { instanceId: 'publisher', logger: pub.logger, ...options });
    receiver = await createNatsEventBus(NATS_URL, { instanceId: 'receiver', logger: rec.logger, ...options });
  });
  after(async () => {
    await publisher?.close();
    await receiver?.close();
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try {
      await (await jetstreamManager(nc)).streams.delete(options.stream);
    } finally {
      await nc.close();
    }
  });

  it('a payload of the wrong shape is refused and logged by the publishing instance, counted there, and never stored in the stream or seen by another instance', async () => {
    const got: string[] = [];
    receiver.subscribe(['gateway.request'], (e) => { got.push((e.payload as GatewayRequestEvent).requestId); });
    await receiver.flush();
    const before = await streamMessages();
    publisher.publish('gateway.request', { ...requestEvent(1), path: 12345 } as unknown as GatewayRequestEvent);
    const { method: _method, ...noMethod } = requestEvent(2);
    publisher.publish('gateway.request', noMethod as GatewayRequestEvent);
    publisher.publish('gateway.request', requestEvent(3));
    await publisher.flush(5_000);
    for (let i = 0; i < 100 && got.length < 1; i++) await sleep(50);
    await sleep(200);
    assert.deepEqual(got, ['req-3']);
    assert.equal(await streamMessages() - before, 1, 'only the valid event is in the stream');
    assert.equal(publisher.stats().malformed, 2);
    assert.deepEqual(pub.lines.filter((l) => l.code === 'ERR_BUS_EVENT_INVALID').map((l) => [l.event, l.problem]),
      [['gateway.request', 'payload path: not of the documented type'], ['gateway.request', 'payload method: missing']]);
    assert.equal(rec.lines.filter((l) => l.code === 'ERR_BUS_EVENT_INVALID').length, 0, 'the receiver had nothing to refuse');
    assert.ok(!/req-1|req-2/.test(JSON.stringify(pub.lines)), 'the payload is not logged');
  });
});
