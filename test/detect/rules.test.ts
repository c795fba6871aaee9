/** The detection rules alone (pure: events in, findings out), with small thresholds. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { Rules } from '../../src/detect/rules.ts';

const config = detectSchema.parse({
  bruteForceAccount: { threshold: 3, windowMs: 60_000 },
  bruteForceAddress: { threshold: 5, windowMs: 60_000 },
  credentialStuffing: { threshold: 4, windowMs: 60_000 },
  mfaFailures: { threshold: 3, windowMs: 60_000 },
  denialBurst: { threshold: 4, windowMs: 10_000, actions: ['alert', 'block'] },
  rateAnomaly: { bucketMs: 1000, factor: 5, minRequests: 20, warmupBuckets: 3, alpha: 0.5 },
});
const fail = (username: string, clientAddress: string, reason = 'bad_credentials') => ({ username, clientAddress, reason });

describe('detection rules', () => {
  it('password brute force on one account from rotating addresses fires at the threshold, once per window, with a lock', () => {
    const rules = new Rules(config);
    const fired = [0, 1, 2, 3, 4, 5].map((i) => rules.evaluate({ name: 'identity.login.failed', time: 1000 + i, payload: fail('Alice', `198.51.100.${i}`) }).filter((f) => f.rule === 'brute_force_account'));
    assert.deepEqual(fired.map((f) => f.length), [0, 0, 1, 0, 0, 0]);
    assert.equal(fired[2]![0]!.key, 'alice');
    assert.deepEqual(fired[2]![0]!.lockAccount, { account: 'alice', by: 'username' });
    assert.deepEqual(fired[2]![0]!.actions, ['alert', 'lock']);
  });

  it('password brute force on one account split between its user name and its e-mail address (login accepts both) fires at the threshold and locks the account', () => {
    const rules = new Rules(config);
    // The login service reports a known account's failures with its subject, whichever identifier was typed.
    const ids = ['alice', 'Alice@Example.com', 'alice'];
    const fired = ids.flatMap((username, i) => rules.evaluate({ name: 'identity.login.failed', time: 1000 + i, payload: { ...fail(username, `198.51.100.${i}`), subject: 'u-alice' } }))
      .filter((f) => f.rule === 'brute_force_account');
    assert.equal(fired.length, 1);
    assert.deepEqual(fired[0]!.lockAccount, { account: 'u-alice', by: 'subject' });
    assert.equal(fired[0]!.block, undefined, 'the account brute-force rule never blocks the attacked subject');
  });

  it('an attacker failing a victim\'s password cannot get the victim\'s subject blocked: `block` in detect.bruteForceAccount.actions is refused naming the key, and the finding carries no block', () => {
    assert.throws(() => parseConfig({ detect: { bruteForceAccount: { actions: ['alert', 'block'] } } }), (err: Error) => {
      assert.match(err.message, /detect\.bruteForceAccount\.actions: must not include `block`/);
      return true;
    });
    // The other rules may still block (their keys are the attacker's own address or identity).
    assert.deepEqual(parseConfig({ detect: { bruteForceAddress: { actions: ['alert', 'block'] }, bruteForceAccount: { actions: ['alert'] } } }).config.detect.bruteForceAccount.actions, ['alert']);
    // A configuration built without the schema does not bring it back either.
    const rules = new Rules({ ...config, bruteForceAccount: { ...config.bruteForceAccount, actions: ['alert', 'block', 'lock'] } });
    const fired = [0, 1, 2].flatMap((i) => rules.evaluate({ name: 'identity.login.failed', time: 1000 + i, payload: { ...fail('victim', `198.51.100.${i}`), subject: 'u-victim' } }))
      .filter((f) => f.rule === 'brute_force_account');
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.block, undefined);
  });

  it('one account tried under its user name and its e-mail address from one address is one account, not two, for credential stuffing', () => {
    const rules = new Rules(config);
    const tries = [['alice', 'u-alice'], ['alice@example.com', 'u-alice'], ['bob', 'u-bob'], ['bob@example.com', 'u-bob']] as const;
    const out = tries.flatMap(([username, subject], i) => rules.evaluate({ name: 'identity.login.failed', time: i, payload: { ...fail(username, '192.0.2.60'), subject } }));
    assert.deepEqual(out.filter((f) => f.rule === 'credential_stuffing'), []);
  });

  it('failures spread wider than the window do not add up to brute force', () => {
    const rules = new Rules(config);
    const out = [0, 1, 2, 3].flatMap((i) => rules.evaluate({ name: 'identity.login.failed', time: i * 40_000, payload: fail('bob', '203.0.113.9') }));
    assert.equal(out.filter((f) => f.rule === 'brute_force_account').length, 0);
  });

  it('credential stuffing (many accounts from one address) fires with an address block; repeats of one name do not count', () => {
    const rules = new Rules(config);
    const names = ['a', 'a', 'a', 'b', 'c', 'd'];
    const out = names.flatMap((n, i) => rules.evaluate({ name: 'identity.login.failed', time: i, payload: fail(n, '192.0.2.50', 'unknown_user') }));
    const stuffing = out.filter((f) => f.rule === 'credential_stuffing');
    assert.equal(stuffing.length, 1);
    assert.deepEqual(stuffing[0]!.block, { kind: 'address', value: '192.0.2.50' });
    assert.equal(stuffing[0]!.count, 4);
  });

  it('credential stuffing from one client spread over the addresses of its IPv6 /64 fires and blocks the /64', () => {
    const rules = new Rules(config);
    const out = ['a', 'b', 'c', 'd'].flatMap((n, i) => rules.evaluate({ name: 'identity.login.failed', time: i, payload: fail(n, `2001:db8:7:8:${i + 1}::${i + 10}`, 'unknown_user') }));
    const stuffing = out.filter((f) => f.rule === 'credential_stuffing');
    assert.equal(stuffing.length, 1);
    assert.deepEqual(stuffing[0]!.block, { kind: 'address', value: '2001:db8:7:8::/64' });
  });

  it('password guessing from rotating addresses of one IPv6 /64 adds up to brute force from that client; another /64 and IPv4 neighbours stay apart', () => {
    const rules = new Rules(config);
    const addresses = ['2001:db8:7:8::1', '2001:db8:7:8:aaaa::2', '2001:DB8:7:8:0:0:0:3', '2001:db8:7:9::1', '192.0.2.1', '192.0.2.2', '2001:db8:7:8:ffff:ffff:ffff:ffff'];
    const out = addresses.flatMap((a, i) => rules.evaluate({ name: 'identity.login.failed', time: i, payload: fail('carol', a) }));
    const fired = out.filter((f) => f.rule === 'brute_force_address');
    assert.equal(fired.length, 0, 'four from the /64, below the threshold of 5');
    const more = rules.evaluate({ name: 'identity.login.failed', time: 9, payload: fail('dave', '2001:db8:7:8:1234::5') }).filter((f) => f.rule === 'brute_force_address');
    assert.deepEqual(more.map((f) => f.block), [{ kind: 'address', value: '2001:db8:7:8::/64' }]);
  });

  it('failures that are consequences of a block or lock are not counted as attempts', () => {
    const rules = new Rules(config);
    const out = [0, 1, 2, 3, 4, 5].flatMap((i) => rules.evaluate({ name: 'identity.login.failed', time: i, payload: fail('carol', '192.0.2.1', 'locked') }));
    assert.deepEqual(out, []);
  });

  it('a replayed refresh token fires at once and blocks the subject', () => {
    const rules = new Rules(config);
    const [f] = rules.evaluate({ name: 'identity.refresh.reused', time: 5, payload: { clientId: 'mail-web', subject: 'u-123', grantId: 'g-1' } });
    assert.equal(f?.rule, 'refresh_token_reuse');
    assert.deepEqual(f?.block, { kind: 'subject', value: 'u-123' });
  });

  it('repeated MFA failures lock the subject', () => {
    const rules = new Rules(config);
    const out = [0, 1, 2].flatMap((i) => rules.evaluate({ name: 'identity.mfa.failed', time: i, payload: { subject: 'u-9', clientAddress: '192.0.2.3', reason: 'invalid' } }));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.lockAccount, { account: 'u-9', by: 'subject' });
  });

  it('an identity denied 6,000 times in one window (a client hammering a route it may not use) raises one alert, and one more in the next window if it goes on', () => {
    const rules = new Rules(config);
    const denied = (time: number) => rules.evaluate({ name: 'gateway.request', time, payload: { status: 403, subject: 'mallory', clientAddress: '192.0.2.9' } })
      .filter((f) => f.rule === 'denial_burst');
    const first = Array.from({ length: 6000 }, (_, i) => denied(1000 + i)).flat();
    assert.equal(first.length, 1, 'one alert for the whole window');
    assert.ok(rules.suppressed >= 1000, `the rest were counted as suppressed (${rules.suppressed})`);
    // The window (10 s) is over: the attack still going on is reported (and its block renewed) again.
    assert.equal(Array.from({ length: 8 }, (_, i) => denied(1000 + 10_000 + i)).flat().length, 1);
    // Another identity is not held back by mallory's alert.
    assert.equal(Array.from({ length: 4 }, (_, i) => rules.evaluate({ name: 'gateway.request', time: 2000 + i, payload: { status: 401, subject: 'eve', clientAddress: '192.0.2.9' } })).flat().filter((f) => f.rule === 'denial_burst').length, 1);
  });

  it('a burst of denials for one identity fires; anonymous denials and allowed requests do not count', () => {
    const rules = new Rules(config);
    const req = (status: number, subject?: string) => ({ name: 'gateway.request', time: 100, payload: { status, clientAddress: '192.0.2.7', ...(subject ? { subject } : {}) } });
    const out = [req(403), req(200, 'dave'), req(403, 'dave'), req(401, 'dave'), req(403, 'dave'), req(403), req(403, 'dave')].flatMap((e) => rules.evaluate(e));
    assert.deepEqual(out.filter((f) => f.rule === 'denial_burst').map((f) => f.key), ['dave']);
  });

  it('requests refused by a block (ERR_SHIELD_BLOCKED) count neither as denials nor towards the identity\'s rate: a client retrying through its block does not renew it', () => {
    const rules = new Rules(config);
    const blocked = (time: number) => ({ name: 'gateway.request', time, payload: { status: 403, errorCode: 'ERR_SHIELD_BLOCKED', stage: 'blockIdentity', subject: 'svc-b', clientAddress: '10.0.0.2' } });
    for (let b = 0; b <= 4; b++) rules.evaluate({ name: 'gateway.request', time: b * 1000, payload: { status: 200, subject: 'svc-b', clientAddress: '10.0.0.2' } });
    const out = Array.from({ length: 500 }, (_, i) => rules.evaluate(blocked(5000 + i))).flat();
    assert.deepEqual(out, []);
  });

  it('a request rate far above the identity\'s usual rate fires once per bucket, only after warm-up', () => {
    const rules = new Rules(config);
    const hits: string[] = [];
    const send = (bucket: number, n: number) => {
      for (let i = 0; i < n; i++) for (const f of rules.evaluate({ name: 'gateway.request', time: bucket * 1000 + i % 1000, payload: { status: 200, subject: 'svc-a', clientAddress: '10.0.0.1' } })) hits.push(`${bucket}:${f.rule}`);
    };
    send(0, 100); // heavy first bucket, but no history yet
    for (let b = 1; b <= 4; b++) send(b, 4);
    assert.deepEqual(hits, []);
    send(5, 100); // ~25× a baseline that decayed to a handful per bucket
    assert.deepEqual(hits, ['5:rate_anomaly']);
  });

  it('an event delivered again under its id (a retried NATS publish) counts once: one typo never reaches the brute-force threshold, one request never doubles a rate', () => {
    const rules = new Rules(config);
    const login = { id: '0193a1b2-c3d4-7e5f-8a9b-000000000001', name: 'identity.login.failed', time: 10, payload: { ...fail('erin', '192.0.2.70'), subject: 'u-erin' } };
    assert.deepEqual([0, 1, 2, 3, 4, 5].flatMap(() => rules.evaluate(login)), []);
    const mfa = { id: '0193a1b2-c3d4-7e5f-8a9b-000000000002', name: 'identity.mfa.failed', time: 11, payload: { subject: 'u-erin', clientAddress: '192.0.2.70', reason: 'invalid' } };
    assert.deepEqual([0, 1, 2, 3].flatMap(() => rules.evaluate(mfa)), []);
    const denied = { id: '0193a1b2-c3d4-7e5f-8a9b-000000000003', name: 'gateway.request', time: 12, payload: { status: 403, subject: 'u-erin', clientAddress: '192.0.2.70' } };
    assert.deepEqual([0, 1, 2, 3, 4, 5].flatMap(() => rules.evaluate(denied)), []);
    // Distinct events still count.
    const more = [2, 3].flatMap((n) => rules.evaluate({ ...login, id: `0193a1b2-c3d4-7e5f-8a9b-00000000001${n}` }));
    assert.deepEqual(more.map((f) => f.rule), ['brute_force_account']);
  });

  it('a failed sign-in delivered late (a publish retried after a bus outage) counts only with failures within the window of it, not with later ones outside it', () => {
    const rules = new Rules(config);
    const at = (time: number, username: string, address: string) => rules.evaluate({ name: 'identity.login.failed', time, payload: { ...fail(username, address), subject: `u-${username}` } });
    // Two guesses now, then one made 100 s earlier (windows are 60 s) arrives: no brute force.
    const account = [at(100_000, 'gina', '192.0.2.90'), at(101_000, 'gina', '192.0.2.91'), at(1_000, 'gina', '192.0.2.92')].flat();
    assert.deepEqual(account.filter((f) => f.rule === 'brute_force_account'), []);
    // Three accounts from one address now, a fourth from 100 s earlier: no credential stuffing.
    const stuffing = [at(100_000, 'h1', '192.0.2.95'), at(100_500, 'h2', '192.0.2.95'), at(101_000, 'h3', '192.0.2.95'), at(1_000, 'h4', '192.0.2.95')].flat();
    assert.deepEqual(stuffing.filter((f) => f.rule === 'credential_stuffing'), []);
    // A late one within the window still counts, and the window starts at the earliest counted.
    const within = at(90_000, 'gina', '192.0.2.93').filter((f) => f.rule === 'brute_force_account');
    assert.deepEqual(within.map((f) => f.windowStart), [90_000]);
    const withinStuffing = at(95_000, 'h5', '192.0.2.95').filter((f) => f.rule === 'credential_stuffing');
    assert.deepEqual(withinStuffing.map((f) => [f.windowStart, f.count]), [[95_000, 4]]);
  });

  it('ignores payloads of the wrong shape (hostile or foreign events)', () => {
    const rules = new Rules(config);
    assert.deepEqual(rules.evaluate({ name: 'identity.login.failed', time: 1, payload: { username: ['x'], clientAddress: { a: 1 }, reason: 'bad_credentials', __proto__: { polluted: true } } }), []);
    assert.deepEqual(rules.evaluate({ name: 'identity.login.failed', time: 1, payload: 'text' }), []);
  });
});
