/**
 * A change made with the CLI reaches running instances that share the bus: a stand-in
 * instance (identity provider + NATS JetStream bus in this process, same PostgreSQL or
 * SQLite store) sees the events, and reloads its signing keys after `keys rotate`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { createNatsEventBus } from '../../src/bus/nats-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import type { Envelope } from '../../src/core/events.ts';
import { loadConfigFile } from '../../src/core/config/load.ts';
import { createIdentityProvider, type IdentityEventSink, type IdentityProvider } from '../../src/identity/index.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';

const skip = await serviceOrSkip('nats');

/** Resolves when `predicate` holds, checking after every event; rejects after `ms` (a hang guard, not a speed assertion). */
function eventually(events: Envelope[], predicate: () => boolean, what: string, ms = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = setInterval(() => {
      if (predicate()) { clearInterval(tick); resolve(); } else if (Date.now() - started > ms) {
        clearInterval(tick);
        reject(new Error(`${what} not seen; events: ${events.map((e) => e.name).join(', ')}`));
      }
    }, 50);
  });
}

describe('CLI changes reach running instances over NATS', { skip }, () => {
  const run = randomBytes(4).toString('hex');
  const bus = { url: NATS_URL, stream: `GH_CLI_${run}`, subjectPrefix: `ghcli.${run}`, maxAgeMs: 10 * 60 * 1000 };
  let b: Backend;
  let config: string;
  let instanceBus: EventBus;
  let store: Store;
  let idp: IdentityProvider;
  const events: Envelope[] = [];

  before(async () => {
    b = await createBackend((await serviceOrSkip('postgres')) ? 'sqlite' : 'postgres');
    config = await b.writeConfig({ bus });
    const { config: loaded } = await loadConfigFile(config);
    const logger = pino({ level: process.env.GH_TEST_LOG ?? 'silent' });
    store = await openStoreFromConfig(loaded, logger);
    await store.migrate();
    instanceBus = await createNatsEventBus(NATS_URL, { instanceId: 'running-instance', stream: bus.stream, subjectPrefix: bus.subjectPrefix, maxAgeMs: bus.maxAgeMs });
    instanceBus.subscribe('*', (e) => { events.push(e); });
    idp = await createIdentityProvider({ config: loaded, store, logger, publicUrl: loaded.publicUrl!, bus: instanceBus as unknown as IdentityEventSink });
    await instanceBus.flush();
  });

  after(async () => {
    await idp?.close();
    await instanceBus?.close();
    await store?.close();
    await b?.close();
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try { await (await jetstreamManager(nc)).streams.delete(bus.stream).catch(() => false); } finally { await nc.close(); }
  });

  const cli = (args: string[]) => gatehouse([...args, '--config', config], { cwd: b.dir });

  it('user disable publishes principal.changed, and the running instance sees the user disabled', async () => {
    const add = await cli(['user', 'add', 'erin', '--role', 'ops', '--json']);
    assert.equal(add.status, 0, show(add));
    const id = (JSON.parse(add.stdout) as { user: { id: string } }).user.id;
    assert.equal((await cli(['user', 'disable', 'erin'])).status, 0);
    await eventually(events, () => events.some((e) => e.name === 'principal.changed' && e.payload.subject === id && e.payload.change === 'disabled'), 'principal.changed (disabled)');
    const from = events.find((e) => e.name === 'principal.changed' && e.payload.subject === id)!;
    assert.match(from.instance, /^cli-/, 'the CLI publishes under its own instance id');
    assert.equal((await idp.directory.getPrincipal(id))?.disabled, true);
  });

  it('token revoke publishes identity.api_token.revoked', async () => {
    assert.equal((await cli(['user', 'enable', 'erin'])).status, 0);
    const created = await cli(['token', 'create', '--owner', 'erin', '--name', 'deploy', '--json']);
    assert.equal(created.status, 0, show(created));
    const { tokenId, token } = JSON.parse(created.stdout) as { tokenId: string; token: string };
    assert.ok(!('code' in await idp.inspectApiToken(token)));
    assert.equal((await cli(['token', 'revoke', tokenId])).status, 0);
    await eventually(events, () => events.some((e) => e.name === 'identity.api_token.revoked' && e.payload.tokenId === tokenId), 'identity.api_token.revoked');
    assert.deepEqual(await idp.inspectApiToken(token), { code: 'ERR_AUTHN_TOKEN_REVOKED' });
  });

  it('keys rotate makes the running instance reload and publish the new key', async () => {
    const before = idp.publicJwks().keys[0]?.kid;
    const r = await cli(['keys', 'rotate', '--json']);
    assert.equal(r.status, 0, show(r));
    const { kid } = JSON.parse(r.stdout) as { kid: string };
    assert.notEqual(kid, before);
    await eventually(events, () => idp.publicJwks().keys[0]?.kid === kid, `the running instance serving key ${kid}`);
    assert.ok(idp.publicJwks().keys.some((k) => k.kid === before), 'the previous key still verifies');
  });
});
