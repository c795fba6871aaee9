/**
 * Credential guessing from many addresses of one network: an attacker that moves to the next
 * address of its /24 (or the next /64 of its /48) before each reaches `credentialGuessing`'s
 * threshold. Counted per address only, it guessed API tokens unseen for as long as it had
 * addresses. The rule now counts the network too (`detect.ipv4Prefix` / `detect.ipv6Prefix`, at
 * their `factor` × the rule's threshold), as bruteForceAddress and credentialStuffing do. The rules
 * alone, then a real composed gateway enforcing the network's block at its shield stage.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { Rules, type Finding } from '../../src/detect/rules.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { createDetectRepo } from '../../src/store/repos/detect-repo.ts';
import type { Store } from '../../src/store/types.ts';
import { serviceToken } from '../support/service-token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const guess = () => randomBytes(32).toString('base64url');

/** Guess `i`: a fresh credential from address `of(i / per)`. */
const guessing = (i: number, per: number, of: (n: number) => string) => ({
  name: 'gateway.request', time: 1000 + i,
  payload: { status: 401, errorCode: 'ERR_AUTHN_API_TOKEN_INVALID', clientAddress: of(Math.floor(i / per)), refusedCredential: `c${i}` },
});

const run = (rules: Rules, n: number, per: number, of: (n: number) => string): { at: number; f: Finding }[] =>
  Array.from({ length: n }, (_, i) => rules.evaluate(guessing(i, per, of)).map((f) => ({ at: i, f }))).flat();

describe('credential guessing rotating through a network (rules)', () => {
  it('API-token guessing from 20 addresses of one /24, 10 each (under the per-address 20), fires at the /24 at factor × threshold (200), alerting only by default', () => {
    const found = run(new Rules(detectSchema.parse({})), 300, 10, (n) => `198.51.100.${n + 1}`);
    assert.deepEqual(found.map(({ at, f }) => [at, f.rule, f.key, f.count]), [[199, 'credential_guessing', '198.51.100.0/24', 200]], 'no address reaches 20; the /24 reaches 200 once');
    const { f } = found[0]!;
    assert.deepEqual(f.actions, ['alert'], 'a /24 may be many users: a block is opted into');
    assert.deepEqual(f.block, { kind: 'address', value: '198.51.100.0/24' });
    assert.equal(f.details.prefixLength, 24);
    assert.equal(f.details.factor, 10);
    assert.equal(f.details.lastNetwork, '198.51.100.20');
  });

  it('forged-JWT guessing from a new /64 of one /48 every 19 guesses fires at the /48; the /64s never do', () => {
    const found = run(new Rules(detectSchema.parse({ ipv6Prefix: { actions: ['alert', 'block'] } })), 200, 19, (n) => `2001:db8:5:${(n + 1).toString(16)}::1`);
    assert.deepEqual(found.map(({ at, f }) => [at, f.key, f.actions]), [[199, '2001:db8:5::/48', ['alert', 'block']]]);
  });

  it('one host guessing on from its own address is dealt with under its address and does not set off its /24, even with the /24 block opted into', () => {
    const rules = new Rules(detectSchema.parse({ credentialGuessing: { actions: ['alert'] }, ipv4Prefix: { actions: ['alert', 'block'] } }));
    const found = run(rules, 1000, 1000, () => '203.0.113.7');
    assert.deepEqual(found.map(({ at, f }) => [at, f.key]), [[19, '203.0.113.7']], 'reported under its address once per window; the /24 never');
  });

  it('a reload lowering the /24\'s factor during the rotation fires at the next guess (guesses before it count); switching the level off forgets them', () => {
    const rules = new Rules(detectSchema.parse({}));
    assert.deepEqual(run(rules, 150, 10, (n) => `198.51.100.${n + 1}`), []);
    rules.configure(detectSchema.parse({ ipv4Prefix: { factor: 5 } }));
    const next = rules.evaluate(guessing(150, 10, (n) => `198.51.100.${n + 1}`));
    // The count is the new threshold: a distinct counter keeps the newest `threshold` values (counters.ts).
    assert.deepEqual(next.map((f) => [f.key, f.count]), [['198.51.100.0/24', 100]]);

    const off = new Rules(detectSchema.parse({}));
    run(off, 150, 10, (n) => `203.0.113.${n + 1}`);
    off.configure(detectSchema.parse({ ipv4Prefix: { enabled: false } }));
    off.configure(detectSchema.parse({ ipv4Prefix: { factor: 5 } }));
    assert.deepEqual(off.evaluate(guessing(150, 10, (n) => `203.0.113.${n + 1}`)), [], 'counted from zero after the level was off');
  });

  it('the network level off (`ipv4Prefix.enabled: false`): rotation is not counted at the /24', () => {
    assert.deepEqual(run(new Rules(detectSchema.parse({ ipv4Prefix: { enabled: false } })), 300, 10, (n) => `198.51.100.${n + 1}`), []);
  });
});

describe('credential guessing rotating through a /24, at the gateway', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let store: Store;
  let validJwt: string;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      trustedProxies: ['127.0.0.1/32'],
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'authenticated', authentication: { methods: ['api_token', 'jwt'] } }],
      detect: { ipv4Prefix: { actions: ['alert', 'block'] } },
    }, { compose: true });
    store = await openStoreFromConfig(gw.gateway.config);
    validJwt = await serviceToken(gw, 'svc-prefix');
  });
  after(async () => { await store?.close(); await gw?.close(); await upstream?.close(); });

  const appRequest = (from: string, authorization: string) => gw.fetch('/app/items', { headers: { 'x-forwarded-for': from, authorization } });

  it('API tokens guessed from 20 addresses of 198.51.100.0/24, 10 each: the /24 is alerted on and blocked; another address of it is refused with ERR_SHIELD_BLOCKED, one outside it is not', async () => {
    for (let a = 1; a <= 20; a++) {
      for (let i = 0; i < 10; i++) {
        const res = await appRequest(`198.51.100.${a}`, `Bearer ghs_${guess()}`);
        assert.equal(res.status, 401, res.body);
        assert.match(res.body, /ERR_AUTHN_API_TOKEN_INVALID/);
      }
    }
    let alerts: { key: string; rule: string }[] = [];
    for (const deadline = Date.now() + 10_000; alerts.length === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      alerts = (await createDetectRepo(store.db).listAlerts({ limit: 50 })).filter((a) => a.rule === 'credential_guessing');
    }
    assert.deepEqual(alerts.map((a) => a.key), ['198.51.100.0/24'], 'one alert, for the network; none for an address');
    const blocks = (await createDetectRepo(store.db).activeBlocks(Date.now())).map((b) => b.value);
    assert.deepEqual(blocks, ['198.51.100.0/24']);

    const inside = await appRequest('198.51.100.250', `Bearer ${validJwt}`);
    assert.equal(inside.status, 403, 'an address of the /24 that never guessed is refused, valid credential or not');
    assert.match(inside.body, /ERR_SHIELD_BLOCKED/);
    assert.equal((await appRequest('198.51.101.1', `Bearer ${validJwt}`)).status, 200, 'the next /24 is not blocked');
  });
});
