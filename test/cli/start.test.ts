/**
 * `gatehouse start` failing before it serves: like every other command it prints
 * `error ERR_…: message (detail)` on stderr and exits 1 — never an uncaught exception with
 * a stack trace.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouse, show } from './support/cli.ts';

/** A line of a JavaScript stack trace (`    at fn (file:line:col)`). */
const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

describe('gatehouse start that cannot start', () => {
  let dir: string;
  let busy: Server;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-cli-start-'));
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    busy.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts with this store and ops port (ephemeral HTTPS, no plain-HTTP listener). */
  async function start(name: string, storeUrl: string, opsPort: number, env: NodeJS.ProcessEnv = {}) {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, [
      `dataDir: ${join(dir, name)}`,
      `store: { url: "${storeUrl}", connectTimeoutMs: 1000 }`,
      'listeners:',
      '  https: { host: 127.0.0.1, port: 0 }',
      '  http: { enabled: false }',
      `  ops: { host: 127.0.0.1, port: ${opsPort} }`,
      '',
    ].join('\n'));
    return gatehouse(['start', '--config', file], { cwd: dir, env });
  }

  it('an unreachable store exits 1 with its error code and no stack trace, and the store password is not printed', async () => {
    const r = await start('store', 'postgres://gate:${GH_TEST_DB_PASSWORD}@127.0.0.1:1/gatehouse', 0, { GH_TEST_DB_PASSWORD: 'pw-never-printed-9f2c' });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /^error ERR_STORE_UNAVAILABLE: /m, show(r));
    assert.doesNotMatch(r.stderr, STACK_LINE, show(r));
    assert.doesNotMatch(r.stderr + r.stdout, /pw-never-printed-9f2c/, show(r));
  });

  it('an ops port already in use exits 1 naming the address, with no stack trace', async () => {
    const r = await start('port', 'sqlite::memory:', (busy.address() as AddressInfo).port);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /^error: .*EADDRINUSE/m, show(r));
    assert.doesNotMatch(r.stderr, STACK_LINE, show(r));
  });
});
