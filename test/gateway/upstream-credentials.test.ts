/**
 * Credential isolation (docs/credential-isolation.md) through a real Gatehouse over real TLS,
 * with a real upstream recording what it receives: the gateway injects the upstream's
 * credential, a client can neither choose nor add to it, and the secret reaches no log line,
 * error body, audit record or validation message. Bad credential settings are refused at
 * validation with the key's path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { request } from 'undici';
import { stringify } from 'yaml';
import { Gateway } from '../../src/gateway/gateway.ts';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';
import { secretFileModeWarnings } from '../../src/core/config/secret-file-mode.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { queryAudit } from '../../src/audit/query.ts';
import type { AuditExtension } from '../../src/audit/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { rawTlsRequest, statusOf } from '../support/raw-tls.ts';
import { insecureAgent, startGateway, startUpstream, testConfig, type TestUpstream } from '../support/gateway.ts';

const SECRET = 'legacy-key-7f3a9c2e51b84d06';
const FILE_SECRET = 'file-held-token-0b9e44d1c2a7';
const ROTATED = 'rotated-token-6d2f8a1e93c5';

function problemsOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    return err.problems.map((p) => ({ path: p.path.join('.'), message: p.message }));
  }
  assert.fail('the configuration was accepted');
}

/** The values the upstream received for `name`, from its raw header list (every copy). */
function receivedValues(upstream: TestUpstream, name: string): string[] {
  const raw = upstream.received.at(-1)!.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

describe('upstream credentials injected by the gateway', () => {
  let upstream: TestUpstream;
  let dir: string;
  let configFile: string;
  let secretFile: string;
  let gateway: Gateway;
  let url: string;
  const logLines: string[] = [];
  const env = { ...process.env, LEGACY_KEY: SECRET };

  const config = (): ConfigInput => testConfig(dir, {
    upstreams: {
      legacy: { url: upstream.url, credentials: { headers: { 'x-api-key': '${LEGACY_KEY}' } } },
      tokened: { url: upstream.url, credentials: { bearerFile: secretFile } },
      // Nothing listens there: a 502 whose body and log lines must not carry the key.
      down: { url: 'http://127.0.0.1:1', credentials: { headers: { 'x-api-key': '${LEGACY_KEY}' } } },
      plain: { url: upstream.url },
    },
    routes: [
      { id: 'legacy', path: '/legacy', upstream: 'legacy', access: 'public' },
      { id: 'tokened', path: '/tokened', upstream: 'tokened', access: 'public' },
      { id: 'down', path: '/down', upstream: 'down', access: 'public' },
      { id: 'plain', path: '/plain', upstream: 'plain', access: 'public' },
    ],
  });

  const fetch = async (path: string, headers: Record<string, string | string[]> = {}) => {
    const res = await request(url + path, { headers, dispatcher: insecureAgent });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  before(async () => {
    upstream = await startUpstream();
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-credentials-'));
    configFile = join(dir, 'gatehouse.yaml');
    secretFile = join(dir, 'upstream-token');
    await writeFile(secretFile, `${FILE_SECRET}\n`, { mode: 0o600 });
    await writeFile(configFile, stringify(config()));
    // The gateway's own logger (no logger given), so its redaction is the one under test.
    const destination = new Writable({ write(chunk: Buffer, _e, cb) { logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); cb(); } });
    const loaded = parseConfig(config(), { env, source: configFile });
    gateway = await Gateway.start({ config: loaded, configFile, env, watch: false, logDestination: destination as never });
    url = `https://127.0.0.1:${gateway.addresses().https.port}`;
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the upstream receives the credential the gateway holds, on every route to it', async () => {
    assert.equal((await fetch('/legacy/a')).status, 200);
    assert.deepEqual(receivedValues(upstream, 'x-api-key'), [SECRET]);
    assert.equal((await fetch('/tokened/a')).status, 200);
    assert.deepEqual(receivedValues(upstream, 'authorization'), [`Bearer ${FILE_SECRET}`], 'the file\'s value, its trailing newline removed');
  });

  it('a client that sends its own x-api-key (twice, any case) never reaches the upstream with it: the gateway\'s wins', async () => {
    const res = await fetch('/legacy/a', { 'X-API-Key': 'attacker-chosen', 'x-api-key': 'attacker-second' });
    assert.equal(res.status, 200);
    assert.deepEqual(receivedValues(upstream, 'x-api-key'), [SECRET]);
    assert.doesNotMatch(JSON.stringify(upstream.received.at(-1)), /attacker-/);
  });

  it('a client that spells the credential header with underscores (x_api_key, read by CGI-style servers as X-API-Key) never reaches the upstream with it', async () => {
    const res = await fetch('/legacy/a', { x_api_key: 'attacker-underscore', X_Api_Key: 'attacker-mixed' });
    assert.equal(res.status, 200);
    assert.deepEqual(receivedValues(upstream, 'x-api-key'), [SECRET]);
    assert.doesNotMatch(JSON.stringify(upstream.received.at(-1)), /attacker-/);
  });

  it('reserved and forwarded headers in their underscore spelling (x_gatehouse_subject, x_forwarded_for) from a client never reach the upstream', async () => {
    const res = await fetch('/plain/a', { x_gatehouse_subject: 'admin', x_gatehouse_roles: 'admin', x_forwarded_for: '10.0.0.1', x_real_ip: '10.0.0.2', x_custom_ok: 'kept' });
    assert.equal(res.status, 200);
    const sent = JSON.stringify(upstream.received.at(-1)!.rawHeaders);
    assert.doesNotMatch(sent, /x_gatehouse|x_forwarded_for|x_real_ip|10\.0\.0\./i);
    assert.match(sent, /x_custom_ok/, 'other underscore names pass as before');
  });

  it('a client that sends its own Authorization to a bearer-credentialed upstream is replaced by the gateway\'s token', async () => {
    assert.equal((await fetch('/tokened/a', { authorization: 'Bearer attacker-token' })).status, 200);
    assert.deepEqual(receivedValues(upstream, 'authorization'), [`Bearer ${FILE_SECRET}`]);
  });

  it('a client that names the credential header in Connection (hop-by-hop stripping) cannot make the gateway drop it', async () => {
    const port = Number(new URL(url).port);
    const send = (path: string, extra: string) => rawTlsRequest(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: x-api-key, authorization, close\r\n${extra}\r\n`);
    assert.equal(statusOf(await send('/legacy/a', '')), 200);
    assert.deepEqual(receivedValues(upstream, 'x-api-key'), [SECRET]);
    // The same Connection field does strip a client's own header where no credential is injected: it reached the gateway.
    assert.equal(statusOf(await send('/plain/a', 'X-Api-Key: the-clients-own\r\n')), 200);
    assert.deepEqual(receivedValues(upstream, 'x-api-key'), []);
  });

  it('a route to an upstream without credentials gets none, and the client\'s own header passes as before', async () => {
    assert.equal((await fetch('/plain/a', { 'x-api-key': 'the-clients-own' })).status, 200);
    assert.deepEqual(receivedValues(upstream, 'x-api-key'), ['the-clients-own']);
    assert.deepEqual(receivedValues(upstream, 'authorization'), []);
  });

  it('an unreachable credentialed upstream answers 502 with no secret in the body, and the secret is in no log line', async () => {
    const res = await fetch('/down/a');
    assert.equal(res.status, 502);
    assert.ok(!res.body.includes(SECRET));
    assert.ok(logLines.length > 0, 'the logger wrote lines');
    for (const line of logLines) {
      assert.ok(!line.includes(SECRET) && !line.includes(FILE_SECRET), `no secret in ${line}`);
    }
  });

  it('a log line that quotes a credential (an upstream error, a debug dump) has it redacted', () => {
    gateway.logger.warn({ upstreamSaid: `bad key ${SECRET}` }, `upstream refused ${FILE_SECRET}`);
    const last = logLines.at(-1)!;
    assert.match(last, /\[REDACTED\]/);
    assert.ok(!last.includes(SECRET) && !last.includes(FILE_SECRET), last);
  });

  it('a rotated secret file is sent from the reload on, without restart, and the new value is redacted', async () => {
    await writeFile(secretFile, ROTATED, { mode: 0o600 });
    assert.deepEqual(await gateway.reload('test'), { applied: true });
    assert.equal((await fetch('/tokened/a')).status, 200);
    assert.deepEqual(receivedValues(upstream, 'authorization'), [`Bearer ${ROTATED}`]);
    gateway.logger.warn(`upstream refused ${ROTATED}`);
    assert.ok(!logLines.at(-1)!.includes(ROTATED), logLines.at(-1));
    await writeFile(secretFile, FILE_SECRET, { mode: 0o600 });
    assert.deepEqual(await gateway.reload('test'), { applied: true });
  });

  it('a secret file other users can read refuses the reload, naming the key, and the previous credential keeps being sent', async () => {
    await chmod(secretFile, 0o644);
    try {
      const result = await gateway.reload('test');
      assert.equal(result.applied, false);
      assert.deepEqual(result.problems!.map((p) => p.path.join('.')), ['upstreams.tokened.credentials.bearerFile']);
      assert.ok(!JSON.stringify(result.problems).includes(FILE_SECRET));
      assert.equal((await fetch('/tokened/a')).status, 200);
      assert.deepEqual(receivedValues(upstream, 'authorization'), [`Bearer ${FILE_SECRET}`]);
    } finally {
      await chmod(secretFile, 0o600);
    }
  });
});

describe('credential settings refused at validation', () => {
  const base = (credentials: unknown, url = 'http://127.0.0.1:9') => ({ upstreams: { legacy: { url, credentials } }, routes: [{ id: 'r', path: '/', upstream: 'legacy', access: 'public' }] });

  it('a CRLF (header injection) in a secret from the environment is refused at the key\'s path, without quoting the value', () => {
    const injected = 'key-9a1\r\nX-Gatehouse-Identity: forged';
    const problems = problemsOf(() => parseConfig(base({ headers: { 'x-api-key': '${LEGACY_KEY}' } }), { env: { LEGACY_KEY: injected } }));
    assert.deepEqual(problems.map((p) => p.path), ['upstreams.legacy.credentials.headers.x-api-key']);
    assert.match(problems[0]!.message, /control character/);
    assert.ok(!JSON.stringify(problems).includes('key-9a1'), JSON.stringify(problems));
  });

  it('a NUL in a bearer token or a basic password is refused', () => {
    const problems = problemsOf(() => parseConfig(base({ bearer: 'tok\0en' })));
    assert.deepEqual(problems.map((p) => p.path), ['upstreams.legacy.credentials.bearer']);
    const basic = problemsOf(() => parseConfig(base({ basic: { username: 'svc', password: 'pa\nss' } })));
    assert.deepEqual(basic.map((p) => p.path), ['upstreams.legacy.credentials.basic.password']);
  });

  it('credential headers that would smuggle, misroute or forge identity (Host, Transfer-Encoding, Connection, x-gatehouse-*, Proxy-*) are refused', () => {
    for (const name of ['Host', 'transfer-encoding', 'connection', 'content-length', 'x-gatehouse-identity', 'proxy-authorization', 'x-forwarded-for', 'te']) {
      const problems = problemsOf(() => parseConfig(base({ headers: { [name]: 'v' } })));
      assert.deepEqual(problems.map((p) => p.path), [`upstreams.legacy.credentials.headers.${name}`], name);
      assert.match(problems[0]!.message, /not allowed as a credential header/);
    }
  });

  it('two sources for one header (bearer and an Authorization header) are refused rather than one silently winning', () => {
    const problems = problemsOf(() => parseConfig(base({ bearer: 'a', headers: { Authorization: 'b' } })));
    assert.deepEqual(problems.map((p) => p.path), ['upstreams.legacy.credentials.bearer']);
  });

  it('production refuses a credential sent over clear-text HTTP to a non-loopback upstream', () => {
    const problems = problemsOf(() => parseConfig(base({ headers: { 'x-api-key': '${LEGACY_KEY}' } }, 'http://10.0.0.5:8080'), { env: { NODE_ENV: 'production', LEGACY_KEY: SECRET } }));
    const credential = problems.find((p) => p.path === 'upstreams.legacy.credentials');
    assert.ok(credential, JSON.stringify(problems));
    assert.match(credential.message, /not allowed in production: upstream credentials sent over plain HTTP/);
    assert.ok(!JSON.stringify(problems).includes(SECRET));
  });

  it('in development the same link is accepted with a warning, and over https:// or to loopback there is none', () => {
    const clear = parseConfig(base({ bearer: SECRET }, 'http://10.0.0.5:8080'));
    assert.ok(clear.warnings.some((w) => w.path.join('.') === 'upstreams.legacy.credentials'));
    for (const url of ['https://10.0.0.5', 'http://127.0.0.1:9']) {
      assert.ok(!parseConfig(base({ bearer: SECRET }, url)).warnings.some((w) => w.path.join('.') === 'upstreams.legacy.credentials'), url);
    }
  });

  it('a configuration file others can read that holds a credential written in it is warned about by key, never by value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-credentials-mode-'));
    try {
      const file = join(dir, 'gatehouse.yaml');
      const document = base({ headers: { 'x-api-key': SECRET, 'x-env': '${LEGACY_KEY}' }, basic: { username: 'svc', password: SECRET } });
      await writeFile(file, stringify(document), { mode: 0o644 });
      await chmod(file, 0o644);
      const warnings = await secretFileModeWarnings(file, document);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /upstreams\.legacy\.credentials\.headers\.x-api-key, upstreams\.legacy\.credentials\.basic\.password\)/);
      assert.ok(!warnings[0]!.includes(SECRET));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gatehouse config validate of a file with a credential prints neither the secret nor its file\'s content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-credentials-cli-'));
    try {
      const file = join(dir, 'gatehouse.yaml');
      await writeFile(file, stringify({ dataDir: dir, ...base({ headers: { 'x-api-key': '${LEGACY_KEY}' } }, 'http://10.0.0.5:8080') }), { mode: 0o600 });
      const run = promisify(execFile);
      const out = await run(process.execPath, ['src/cli/main.ts', 'config', 'validate', file], { env: { ...process.env, LEGACY_KEY: SECRET, NODE_ENV: 'production' } }).catch((err: { stdout: string; stderr: string }) => err);
      const text = out.stdout + out.stderr;
      assert.match(text, /upstreams\.legacy\.credentials/);
      assert.ok(!text.includes(SECRET), text);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('upstream credentials and the audit log', () => {
  it('no audit record of a credentialed request holds the secret, and the audit redactor hides it when a record quotes it', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway({
      audit: { fsync: false },
      upstreams: { legacy: { url: upstream.url, credentials: { headers: { 'x-api-key': '${LEGACY_KEY}' } } } },
      routes: [{ id: 'legacy', path: '/legacy', upstream: 'legacy', access: 'public' }],
    }, { compose: true, env: { LEGACY_KEY: SECRET } });
    const store = await openStoreFromConfig(gw.gateway.config);
    try {
      assert.equal((await gw.fetch('/legacy/a', { headers: { 'x-api-key': 'attacker-chosen' } })).status, 200);
      assert.deepEqual(receivedValues(upstream, 'x-api-key'), [SECRET]);
      const audit = gw.gateway.extensions.find((e) => e.name === 'audit') as AuditExtension;
      await new Promise((r) => setTimeout(r, 100));
      await audit.writer!.flush();
      const records: unknown[] = [];
      for await (const r of queryAudit(store, {})) records.push(r);
      assert.ok(records.length > 0);
      assert.ok(!JSON.stringify(records).includes(SECRET));
      assert.ok(!audit.redactor.string(`upstream answered: bad key ${SECRET}`).includes(SECRET));
      assert.ok(!gw.logs.text().includes(SECRET), 'not in the (unredacted) test logger either');
    } finally {
      await store.close();
      await gw.close();
      await upstream.close();
    }
  });
});
