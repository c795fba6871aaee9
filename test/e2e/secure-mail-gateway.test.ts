/**
 * Secure mail through the real Gatehouse (the demo as `npm start` runs it), without a
 * browser: service-to-service routes accept only client certificates from Gatehouse's CA and
 * the policy lets each service call only what it needs; people cannot reach service routes.
 * The browser test covers the people's side; the in-process suites (services, attacks, saga)
 * cover what only a forged or faulty gateway could send.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'undici';
import { startDemo, type RunningDemo } from './secure-mail-support/demo.ts';

describe('secure mail through the real Gatehouse', { timeout: 240_000 }, () => {
  let demo: RunningDemo;
  let gatewayCa: string;
  before(async () => {
    demo = await startDemo();
    gatewayCa = await readFile(join(demo.dataDir, 'gatehouse', 'tls', 'localhost.crt'), 'utf8');
  });
  after(async () => { await demo?.close(); });

  /** A call through Gatehouse's public listener presenting `service`'s own certificate (or none). */
  async function call(service: string | undefined, method: string, path: string, body?: unknown) {
    const dir = join(demo.dataDir, 'services', service ?? 'none', 'data', 'identity');
    const connect = service === undefined
      ? { ca: gatewayCa }
      : { ca: gatewayCa, key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
    const agent = new Agent({ connect });
    try {
      const res = await request(new URL(path, demo.url), {
        method: method as 'GET', dispatcher: agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
      });
      const text = await res.body.text();
      return { status: res.statusCode, code: (JSON.parse(text || '{}') as { error?: { code?: string } }).error?.code };
    } finally { await agent.close(); }
  }

  const unwrap = { keyId: `msg_${'0'.repeat(32)}`, wrapped: 'AAAA' };

  it('the notification service\'s certificate may not unwrap keys: Gatehouse\'s policy refuses it (403 ERR_POLICY_DENIED)', async () => {
    assert.deepEqual(await call('notification', 'POST', '/svc/keys/unwrap', unwrap), { status: 403, code: 'ERR_POLICY_DENIED' });
  });

  it('the lifetime service may destroy a key but not unwrap one', async () => {
    assert.deepEqual(await call('lifetime', 'POST', '/svc/keys/unwrap', unwrap), { status: 403, code: 'ERR_POLICY_DENIED' });
    // Allowed by Gatehouse; the key service answers for itself (an unknown key is already gone: 204).
    const destroy = await call('lifetime', 'DELETE', `/svc/keys/keys/msg_${'1'.repeat(32)}`);
    assert.notEqual(destroy.code, 'ERR_POLICY_DENIED');
    assert.ok(destroy.status < 500, `status ${destroy.status}`);
  });

  it('the messages service reaches the key service through Gatehouse (policy allows, the key service answers)', async () => {
    const r = await call('messages', 'POST', '/svc/keys/unwrap', unwrap);
    assert.notEqual(r.code, 'ERR_POLICY_DENIED');
    assert.notEqual(r.status, 401);
  });

  it('a service route without a client certificate is refused before policy (401 ERR_AUTHN_REQUIRED)', async () => {
    assert.deepEqual(await call(undefined, 'POST', '/svc/keys/unwrap', unwrap), { status: 401, code: 'ERR_AUTHN_REQUIRED' });
  });

  it('the web service\'s certificate cannot delete messages (403 ERR_POLICY_DENIED)', async () => {
    assert.deepEqual(await call('web', 'DELETE', `/svc/messages/messages/msg_${'2'.repeat(32)}`), { status: 403, code: 'ERR_POLICY_DENIED' });
  });

  it('the notification service asks the messages service, through Gatehouse, whether a notice may still go out (a message that is not there: 410 MAIL_GONE); the web service may not', async () => {
    const path = `/svc/messages/messages/msg_${'3'.repeat(32)}`;
    assert.deepEqual(await call('notification', 'GET', path), { status: 410, code: 'MAIL_GONE' });
    assert.deepEqual(await call('web', 'GET', path), { status: 403, code: 'ERR_POLICY_DENIED' });
  });

  it('a service certificate cannot use the people\'s mail API (ERR_AUTHN_METHOD_NOT_ALLOWED)', async () => {
    const r = await call('messages', 'GET', '/api/mail/me');
    assert.equal(r.status, 401);
    assert.equal(r.code, 'ERR_AUTHN_METHOD_NOT_ALLOWED');
  });

  it('the sample\'s policy test cases hold (gatehouse policy test)', () => {
    const run = spawnSync(process.execPath, ['src/cli/main.ts', 'policy', 'test', 'examples/secure-mail/policies/secure-mail.policytest.yaml'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /0 failed/);
  });
});
