/**
 * The bus contract against a real NATS JetStream server. Each run uses its own stream and
 * subject prefix (streams may not overlap) and deletes the stream afterwards.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { busContract } from './contract.ts';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const stream = `GH_TEST_${run}`;
const subjectPrefix = `ghtest.${run}`;
const options = { stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 };

busContract('nats', {
  create: (instanceId, extra) => createNatsEventBus(NATS_URL, { instanceId, ...options, ...extra }),
  peer: (_of, instanceId) => createNatsEventBus(NATS_URL, { instanceId, ...options }),
  durableAcrossRestart: true,
  teardown: async () => {
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(stream);
    } finally {
      await nc.close();
    }
  },
}, skip);
