/**
 * Canary secrets planted in request headers, query strings, bodies and configuration,
 * driven through a real running gateway (forwarded requests and error exits), must be
 * found in no log line and nowhere in the store (every column of every table) nor in the
 * audit spool. The logger uses the audit redaction rules as pino `formatters.log`, as the
 * gateway logger should.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pino from 'pino';
import { request } from 'undici';
import { auditExtension, type AuditExtension } from '../../src/audit/extension.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { insecureAgent, startUpstream, testConfig, type TestUpstream } from '../support/gateway.ts';

const tag = randomBytes(6).toString('hex');
/** Each canary is unique to this run, so a hit cannot come from anything else. */
const C = {
  bearer: `canaryBearer${tag}`,
  jwt: `eyJhbGciOiJIUzI1NiJ9.eyJjYW5hcnkiOiIke3RhZ30ifQ.canaryJwt${tag}`,
  apiToken: `ghs_canaryApiToken${tag}`,
  cookie: `canaryCookie${tag}`,
  apiKeyHeader: `canaryApiKey${tag}`,
  queryToken: `canaryQueryToken${tag}`,
  queryPassword: `canaryQueryPassword${tag}`,
  bodyPassword: `canaryBodyPassword${tag}`,
  bodySecret: `canaryBodySecret${tag}`,
  basic: Buffer.from(`admin:canaryBasic${tag}`).toString('base64'),
  configSecret: `canaryConfigSecret${tag}`,
  customPattern: `ACME-${tag}-SECRET`,
  encodedQueryToken: `canaryEncodedQueryToken${tag}`,
  encodedQueryPassword: `canaryEncodedQueryPassword${tag}`,
  repeatedHeaderToken: `canaryRepeatedHeaderToken${tag}`,
  repeatedCookie: `canaryRepeatedCookie${tag}`,
};

describe('canary secrets never reach logs or the store', () => {
  let dir: string;
  let store: Store;
  let gateway: Gateway;
  let upstream: TestUpstream;
  let audit: AuditExtension;
  const lines: string[] = [];
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-canary-'));
    upstream = await startUpstream();
    const input = testConfig(dir, {
      instanceId: 'canary',
      upstreams: { app: { url: upstream.url }, down: { url: 'http://127.0.0.1:9' } },
      routes: [
        { id: 'app', path: '/app', upstream: 'app', access: 'public' },
        { id: 'down', path: '/down', upstream: 'down', access: 'public' },
      ],
      audit: {
        redact: { patterns: ['ACME-[0-9a-f]+-SECRET'] },
        export: { otlp: { url: 'http://127.0.0.1:9/v1/logs', headers: { authorization: `Bearer ${C.configSecret}` } } },
      },
    });
    const loaded = parseConfig(input, { env: {}, source: 'canary' });
    const redactor = createRedactor(loaded.config.audit.redact);
    const sink = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); cb(); } });
    const logger = pino({ level: 'debug', formatters: { log: redactor.logFormatter }, hooks: { logMethod: redactor.logMethod } }, sink);
    store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`, { logger });
    await store.migrate();
    const bus = new MemoryEventBus({ instanceId: 'canary', logger });
    audit = auditExtension({ config: loaded.config, logger, store, bus });
    gateway = await Gateway.start({ config: loaded, logger, watch: false, extensions: [audit] });
    base = `https://127.0.0.1:${gateway.addresses().https.port}`;
    // The configuration itself goes through the logger too (as a careless debug line would).
    logger.debug({ config: loaded.config }, 'effective configuration');
  });

  after(async () => {
    await gateway?.stop();
    await store?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function send(path: string, init: { method?: string; headers?: Record<string, string> | string[]; body?: string } = {}): Promise<number> {
    try {
      const res = await request(base + path, { method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, body: init.body ?? null, dispatcher: insecureAgent });
      await res.body.text();
      return res.statusCode;
    } catch {
      return 0;
    }
  }

  it('plants canaries in headers, query strings, bodies and config, through forwarded requests and error exits', async () => {
    const secretHeaders = {
      authorization: `Bearer ${C.bearer}`,
      cookie: `__Host-session=${C.cookie}; theme=dark`,
      'x-api-key': C.apiKeyHeader,
      'x-forwarded-for': `10.0.0.1, ${C.customPattern}`,
    };
    const statuses = [
      await send(`/app/inbox?access_token=${C.queryToken}&password=${C.queryPassword}`, { headers: secretHeaders }),
      await send('/app/login', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${C.jwt}` }, body: JSON.stringify({ username: 'alice', password: C.bodyPassword, client_secret: C.bodySecret }) }),
      await send('/app/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${C.basic}` }, body: `username=bob&password=${C.bodyPassword}` }),
      await send(`/nowhere?token=${C.queryToken}`, { headers: { authorization: `Bearer ${C.apiToken}` } }),
      await send(`/down/x?api_key=${C.queryToken}`, { headers: { authorization: `Bearer ${C.jwt}` } }),
      await send('/app/big', { method: 'POST', headers: { 'content-length': String(100 * 1024 * 1024), authorization: `Bearer ${C.bearer}` }, body: 'x' }),
      await send(`/app/%2e%2e/%2fetc?password=${C.queryPassword}`, { headers: { cookie: `session=${C.cookie}` } }),
      // Secret names percent-encoded, and credential headers sent twice (a header list, not an object).
      await send(`/nowhere/x?tok%65n=${C.encodedQueryToken}&pass%77ord=${C.encodedQueryPassword}`, { headers: ['x-upstream-token', C.repeatedHeaderToken, 'x-upstream-token', C.repeatedHeaderToken, 'cookie', `a=${C.repeatedCookie}`, 'cookie', `b=${C.repeatedCookie}`] }),
      await send(`/down/x?tok%65n=${C.encodedQueryToken}&pass%77ord=${C.encodedQueryPassword}`, { headers: ['x-upstream-token', C.repeatedHeaderToken, 'x-upstream-token', C.repeatedHeaderToken] }),
    ];
    assert.ok(statuses.includes(200) && statuses.includes(404) && statuses.includes(502), `statuses ${statuses.join(',')}`);
    // The access sink runs from each response's close event, just after the client has it.
    const answered = statuses.filter((s) => s !== 0).length;
    const deadline = Date.now() + 5000;
    while (audit.writer!.stats().appended < answered && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await audit.writer!.flush();
    assert.ok(audit.writer!.stats().committed >= answered, `the requests were recorded (${JSON.stringify(audit.writer!.stats())}, statuses ${statuses.join(',')})`);
  });

  it('finds none of them in any log line, any store table or the audit spool', async () => {
    const haystacks: [string, string][] = [['logs', lines.join('\n')]];
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db);
    for (const { name } of tables.rows) {
      const rows = await sql`select * from ${sql.table(name)}`.execute(store.db);
      haystacks.push([`table ${name}`, JSON.stringify(rows.rows)]);
    }
    const spoolDir = join(dir, 'audit-spool');
    for (const f of await readdir(spoolDir)) haystacks.push([`spool ${f}`, await readFile(join(spoolDir, f), 'utf8')]);
    assert.ok(lines.length > 5 && haystacks.some(([n, h]) => n === 'table audit_records' && h.includes('/app/inbox')), 'there is something to search');
    const found: string[] = [];
    for (const [where, text] of haystacks) {
      for (const [name, canary] of Object.entries(C)) {
        const needle = name === 'jwt' ? `canaryJwt${tag}` : canary;
        if (text.includes(needle)) found.push(`${name} in ${where}`);
      }
    }
    assert.deepEqual(found, []);
  });
});
