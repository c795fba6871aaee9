/**
 * Gateway logout on a fleet: two gateways, each with its own in-process IdP and authn, share
 * one PostgreSQL database and nothing else (no bus between them). A browser signs in through
 * instance A and logs out through instance B, as a load balancer may send it: B must end the
 * IdP sign-in session A made, so that the next login on A asks for the password again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { parseConfig } from '../../src/core/config/load.ts';
import { IDP_COOKIE_NAMES } from '../../src/identity/oidc/cookie-names.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { createIdentityComponent } from '../../src/gateway/extensions/identity.ts';
import type { Platform } from '../../src/gateway/extensions/platform.ts';
import { createAuthnComponent } from '../../src/authn/authn-component.ts';
import { SESSION_COOKIE } from '../../src/authn/session/cookies.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { Browser, formAction, inputValue } from '../identity/support/browser.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { browserFetchVia } from './support/browser-fetch.ts';

const skip = await serviceOrSkip('postgres');
const PUBLIC = 'https://gw.test';
const PASSWORD = 'correct horse battery staple';
const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none', accept: 'text/html' };

interface Instance { gw: TestGateway; store: Store; bus: MemoryEventBus; dir: string; port: number; agent: Agent }

describe('gateway logout on another instance than the login (one PostgreSQL database, no bus)', { skip }, () => {
  let database: ScratchDatabase | undefined;
  const keyEncryptionSecret = randomBytes(32).toString('base64url');
  const instances: Instance[] = [];
  let upstream: TestUpstream;
  let target = 0;
  // Every connection goes to the instance the test picks (`target`), whatever the host name.
  const connector = buildConnector({ rejectUnauthorized: false });
  const dispatcher = new Agent({ connect: (opts, cb) => connector({ ...opts, hostname: '127.0.0.1', port: String(instances[target]!.port), servername: 'localhost' }, cb) });
  const browserFetch = browserFetchVia(dispatcher);

  async function startInstance(storeUrl: string, name: string): Promise<Instance> {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-logout-'));
    const instance = { port: 0 };
    const input: ConfigInput = {
      mode: 'development',
      publicUrl: PUBLIC,
      dataDir: dir,
      identity: { signing: { keyEncryptionSecret } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['session'], browserLogin: true } }],
    };
    const config = parseConfig({ ...input, listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } }, { env: process.env, source: 'test' }).config;
    const store = await openStore(storeUrl);
    if (instances.length === 0) await store.migrate();
    const bus = new MemoryEventBus({ instanceId: name });
    const platform = { config, store, bus, logger: pino({ level: process.env.GH_TEST_LOG ?? 'silent' }) } as unknown as Platform;
    const identity = await createIdentityComponent(platform);
    if (instances.length === 0) await identity.idp.accounts.addUser({ username: 'alice', password: PASSWORD, roles: ['reader'] });
    // The gateway's code exchange goes to its own instance's token endpoint.
    const own = new Agent({ connect: (opts, cb) => connector({ ...opts, hostname: '127.0.0.1', port: String(instance.port), servername: 'localhost' }, cb) });
    const loginFetch = ((url: string | URL, init: Record<string, unknown> = {}) => undiciFetch(url, { ...init, dispatcher: own })) as unknown as typeof fetch;
    const authn = await createAuthnComponent(platform, { identity: identity.idp, loginFetch });
    const gw = await startGateway(input, { extensions: [identity.extension, authn.extension] });
    instance.port = Number(new URL(gw.url).port);
    return { gw, store, bus, dir, port: instance.port, agent: own };
  }

  before(async () => {
    database = await createScratchDatabase('gh_logout_instances');
    upstream = await startUpstream();
    instances.push(await startInstance(database.url, 'gw-a'));
    instances.push(await startInstance(database.url, 'gw-b'));
  });

  after(async () => {
    try {
      for (const i of instances) {
        await i.gw.close();
        await i.bus.close();
        await i.store.close();
        await i.agent.close();
        rmSync(i.dir, { recursive: true, force: true });
      }
      await upstream?.close();
      await dispatcher.close();
    } finally {
      await database?.drop();
    }
  });

  /** A visit to a protected page on the current instance: 'password' when the IdP shows its sign-in form, else 'no password'. */
  async function visit(browser: Browser): Promise<{ outcome: 'password' | 'no password'; page: string }> {
    let r = await browser.request(`${PUBLIC}/app/x`, { headers: NAVIGATE });
    for (let hops = 0; r.location !== undefined && hops < 10; hops++) {
      if (r.location.startsWith(`${PUBLIC}/_gatehouse/auth/callback?`)) {
        const callback = await browser.request(r.location, { headers: NAVIGATE });
        assert.equal(callback.status, 303, `callback: ${callback.body.slice(0, 200)}`);
        return { outcome: 'no password', page: '' };
      }
      r = await browser.request(r.location, { headers: NAVIGATE });
    }
    assert.ok(formAction(r.body, 'login'), `the IdP's sign-in form: ${r.status} ${r.body.slice(0, 200)}`);
    return { outcome: 'password', page: r.body };
  }

  it('after a logout on instance B the next browser login on instance A asks for the password again (shared-machine sign-in reuse)', async () => {
    const browser = new Browser(browserFetch);
    target = 0;
    const first = await visit(browser);
    assert.equal(first.outcome, 'password');
    let r = await browser.request(new URL(formAction(first.page, 'login')!, PUBLIC), { form: { csrf: inputValue(first.page, 'csrf')!, username: 'alice', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-origin', origin: PUBLIC } });
    for (let hops = 0; r.location !== undefined && hops < 10; hops++) r = await browser.request(r.location, { headers: NAVIGATE });
    assert.equal(r.status, 200, 'signed in on A, back at the page');
    const kept = new Map([...browser.cookies].filter(([name]) => name.startsWith(IDP_COOKIE_NAMES.session)));
    assert.ok(kept.size > 0 && browser.cookies.has(SESSION_COOKIE));

    target = 1;
    assert.equal((await browser.request(`${PUBLIC}/_gatehouse/auth/logout`, { headers: NAVIGATE })).status, 303, 'logged out on B');

    target = 0;
    assert.equal((await visit(browser)).outcome, 'password', 'A asks for the password');
    const replay = new Browser(browserFetch);
    for (const [name, cookie] of kept) replay.cookies.set(name, { ...cookie });
    assert.equal((await visit(replay)).outcome, 'password', 'the IdP session A made is gone for A too');
  });
});
