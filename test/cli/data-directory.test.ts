/**
 * The data directory holds the store, the generated keys (PKI master key, identity
 * key-encryption secret, audit signing key) and the TLS key. A directory another user can
 * write to lets that user plant or swap any of them, so `start` and every stateful command
 * refuse it before anything is read from it or written into it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouse, show } from './support/cli.ts';

describe('data directory permissions', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-cli-datadir-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A config whose data directory is `name` (ephemeral listeners, so `start` binds nothing fixed). */
  async function config(name: string): Promise<{ file: string; data: string }> {
    const data = join(dir, name);
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, `dataDir: ${data}\nlisteners:\n  https: { host: 127.0.0.1, port: 0 }\n  http: { enabled: false }\n  ops: { host: 127.0.0.1, port: 0 }\n`);
    return { file, data };
  }

  it('a new data directory is created 0700 whatever the umask', async () => {
    const { file, data } = await config('fresh');
    const r = await gatehouse(['user', 'list', '--config', file]);
    assert.equal(r.status, 0, show(r));
    assert.equal((await stat(data)).mode & 0o777, 0o700);
  });

  it('start refuses a world-writable data directory before writing a key, certificate or store into it', async () => {
    const { file, data } = await config('world');
    await mkdir(data);
    await chmod(data, 0o1777);
    const r = await gatehouse(['start', '--config', file], { timeoutMs: 20_000 });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /dataDir: .*world.*writable by every user/, show(r));
    assert.deepEqual(await readdir(data), [], 'nothing was written into it');
  });

  it('a stateful command refuses a world-writable data directory too', async () => {
    const { file, data } = await config('world-cli');
    await mkdir(data);
    await chmod(data, 0o777);
    const r = await gatehouse(['user', 'list', '--config', file]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /dataDir: .*writable by every user/, show(r));
    assert.deepEqual(await readdir(data), []);
  });

  it('start refuses a data directory owned by another (non-root) user', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
    const { file, data } = await config('other-owner');
    await mkdir(data, { mode: 0o700 });
    await chown(data, 65534, 65534);
    const r = await gatehouse(['start', '--config', file], { timeoutMs: 20_000 });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /dataDir: .*owned by user 65534/, show(r));
    assert.deepEqual(await readdir(data), []);
  });

  it('a group-writable data directory (a Kubernetes fsGroup volume) is used with a warning', async () => {
    const { file, data } = await config('group');
    await mkdir(data);
    await chmod(data, 0o2770);
    const r = await gatehouse(['user', 'list', '--config', file]);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stderr, /warning: dataDir: .*writable by its group/, show(r));
  });
});
