/**
 * Blocks are shared through the store: a subject blocked by `gatehouse alerts block` (another
 * process, with its own in-process bus that no instance hears) gets no fresh credentials from
 * any instance — no refreshed tokens, no client-credentials tokens, no renewed certificate — at
 * once, not after the instances' next block refresh; and gets them again at once when lifted,
 * with the refresh token it held all along. Two composed Gatehouse instances on one PostgreSQL
 * database, each with its own in-process bus and a block refresh far beyond the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { createEventBus } from '../../src/bus/create-event-bus.ts';
import type { EventBus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { AdminContext } from '../../src/detect/commands/admin-audit.ts';
import { blockAddCommand, blockLiftCommand } from '../../src/detect/commands/alerts.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { followToCallback, PASSWORD, REDIRECT, startAuth, submitLogin } from './support/flows.ts';
import { discover, issueClientCertificate, startIdpGateway, TRUST_DOMAIN, type ClientTls, type IdpGateway } from './support/gateway-idp.ts';

const skip = await serviceOrSkip('postgres');
const WORKLOAD = `spiffe://${TRUST_DOMAIN}/svc/reports`;

describe('a block placed from the CLI, at two instances sharing one PostgreSQL database', { skip }, () => {
  let database: ScratchDatabase | undefined;
  let a: IdpGateway;
  let b: IdpGateway;
  let cli: { ctx: AdminContext; store: Store; bus: EventBus; dir: string };
  let aliceId: string;
  let appSecret: string;
  let svcSecret: string;
  let workload: ClientTls;

  before(async () => {
    database = await createScratchDatabase('gh_blocked');
    const shared = {
      store: { url: database.url },
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url') } },
      pki: { trustDomain: TRUST_DOMAIN, key: randomBytes(32).toString('base64url') },
      // Far beyond the test: the instances' in-memory block sets never learn of the CLI's block.
      detect: { blockRefreshMs: 600_000 },
    };
    a = await startIdpGateway({ ...shared, instanceId: 'blk-a' });
    b = await startIdpGateway({ ...shared, instanceId: 'blk-b' });
    aliceId = (await a.accounts.addUser({ username: 'alice', password: PASSWORD })).id;
    appSecret = (await a.accounts.addClient({ clientId: 'webapp', kind: 'app', redirectUris: [REDIRECT] })).secret!;
    svcSecret = (await a.accounts.addClient({ clientId: 'billing', kind: 'service', roles: ['billing:svc'] })).secret!;
    workload = await issueClientCertificate(await a.ca(), WORKLOAD);
    // What `gatehouse alerts block|unblock` opens: the store, and an in-process bus of its own.
    const dir = await mkdtemp(join(tmpdir(), 'gh-blocked-cli-'));
    const store = await openStore(database.url);
    const bus = await createEventBus('memory:', { instanceId: 'cli' });
    cli = { ctx: { config: parseConfig({ dataDir: dir, store: { url: database.url } }).config, store, bus }, store, bus, dir };
  });

  after(async () => {
    try {
      await a?.close();
      await b?.close();
      await cli?.bus.close();
      await cli?.store.close();
      if (cli) await rm(cli.dir, { recursive: true, force: true });
    } finally {
      await database?.drop();
    }
  });

  const renew = async (at: IdpGateway) => {
    const res = await at.fetchFor(workload)(`${at.origin}/.well-known/gatehouse/pki/renew`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csr: (await generateKeyAndCsr(WORKLOAD)).csrPem }) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };

  it('a user, a service and a workload blocked by the CLI get no refreshed token, client-credentials token or renewed certificate from either instance; lifted by the CLI, they get them at once, the user with the refresh token it kept', async () => {
    const configA = await discover(a, 'webapp', appSecret);
    const configB = await discover(b, 'webapp', appSecret);
    const start = await startAuth(a, configA, 'openid offline_access');
    const callback = await followToCallback(a, start, (await submitLogin(a, start, 'alice', PASSWORD)).location);
    const tokens = await oidc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const refreshToken = tokens.refresh_token!;
    assert.ok(refreshToken);

    const blocks = [];
    for (const value of [aliceId, 'billing', WORKLOAD]) {
      blocks.push(await blockAddCommand(cli.ctx, { kind: 'subject', value, durationMs: 600_000, reason: 'investigation', by: 'ops' }));
    }

    for (const [name, config, at] of [['B', configB, b], ['A', configA, a]] as const) {
      await assert.rejects(oidc.refreshTokenGrant(config, refreshToken), (e: any) => e.error === 'invalid_grant', `refresh at ${name}`);
      await assert.rejects(oidc.clientCredentialsGrant(await discover(at, 'billing', svcSecret), {}), (e: any) => e.error === 'invalid_grant', `client credentials at ${name}`);
      const refused = await renew(at);
      assert.equal(refused.status, 403, `renewal at ${name}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error, 'ERR_PKI_IDENTITY_BLOCKED');
    }

    for (const blk of blocks) await blockLiftCommand(cli.ctx, { id: blk.id }, 'ops');
    assert.ok((await oidc.refreshTokenGrant(configB, refreshToken)).access_token, 'the refresh token kept through the block works at B');
    assert.ok((await oidc.clientCredentialsGrant(await discover(b, 'billing', svcSecret), {})).access_token);
    assert.equal((await renew(b)).status, 201);
  });
});
