/**
 * `logging.level` and `logging.accessLog` follow a reload: an operator turning on debug (or
 * the access log) during an incident must not need a restart that would drop the state being
 * investigated, and the reload must not report them as restart-only.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { Agent, request } from 'undici';
import { Gateway } from '../../src/gateway/gateway.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startUpstream, testConfig, type TestUpstream } from '../support/gateway.ts';

const lines: Record<string, unknown>[] = [];
const destination = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  },
});

let dir: string;
let upstream: TestUpstream;
let gateway: Gateway;
const agent = new Agent({ connect: { rejectUnauthorized: false } });

const config = (logging: Record<string, unknown>) => testConfig(dir, {
  logging,
  upstreams: { app: { url: upstream.url } },
  routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-loglevel-'));
  upstream = await startUpstream();
  const input = config({ level: 'warn', accessLog: true });
  await writeFile(join(dir, 'gatehouse.yaml'), stringify(input));
  gateway = await Gateway.start({ config: parseConfig(input, { env: {} }), configFile: join(dir, 'gatehouse.yaml'), watch: false, env: {}, logDestination: destination });
});

after(async () => {
  await gateway.stop();
  await upstream.close();
  await agent.close();
  await rm(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<void> {
  const res = await request(`https://127.0.0.1:${gateway.addresses().https.port}${path}`, { dispatcher: agent });
  await res.body.dump();
}

const accessLines = (path: string) => lines.filter((l) => l.type === 'access' && l.path === path);
const settle = () => new Promise((r) => setTimeout(r, 100));

it('a reload from level warn to info starts the access log at once, without a restart', async () => {
  await get('/app/before');
  await settle();
  assert.equal(accessLines('/app/before').length, 0, 'at warn, info lines are not written');
  await writeFile(join(dir, 'gatehouse.yaml'), stringify(config({ level: 'info', accessLog: true })));
  const result = await gateway.reload('test');
  assert.equal(result.applied, true);
  const reloaded = lines.find((l) => l.msg === 'configuration reloaded');
  assert.ok(reloaded, 'the reload line itself is written at the new level');
  assert.deepEqual(reloaded.restartOnly, [], 'logging is not reported as restart-only');
  await get('/app/after');
  await settle();
  assert.equal(accessLines('/app/after').length, 1);
});

it('a reload that turns the access log off stops it at once', async () => {
  await writeFile(join(dir, 'gatehouse.yaml'), stringify(config({ level: 'info', accessLog: false })));
  assert.equal((await gateway.reload('test')).applied, true);
  await get('/app/quiet');
  await settle();
  assert.equal(accessLines('/app/quiet').length, 0);
});

// Coverage (passes on the old code too): pino children made without a level of their own read the root's.
it('a level set on the root logger reaches the component loggers made from it earlier', async () => {
  const seen: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l.trim()) seen.push(JSON.parse(l)); cb(); } });
  const root = createLogger({ level: 'warn', destination: sink });
  const child = root.child({ component: 'detect' });
  const grandchild = child.child({ rule: 'bruteForce' });
  child.debug('hidden');
  root.level = 'debug';
  child.debug('shown');
  grandchild.debug('shown too');
  root.level = 'error';
  child.warn('hidden again');
  await settle();
  assert.deepEqual(seen.map((l) => l.msg), ['shown', 'shown too']);
});
