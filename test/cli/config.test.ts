/**
 * How stateful commands find and validate their configuration: `--config FILE`, else
 * `./gatehouse.yaml`, else built-in defaults; a bad or missing file, or an unreachable
 * store or bus, exits 1 with the problem listed and changes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouse, show } from './support/cli.ts';

describe('CLI configuration', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-cli-config-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  it('a --config path that does not exist exits 1 and says so', async () => {
    const r = await gatehouse(['user', 'list', '--config', join(dir, 'nope.yaml')], { cwd: dir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /configuration refused: 1 problem\(s\)\n\s+\(root\): cannot read .*nope\.yaml: ENOENT/);
    assert.equal(r.stdout, '');
  });

  it('a --config that is missing, a directory or invalid is reported with the stable code ERR_CONFIG_INVALID by start, stateful commands and config validate', async () => {
    const bad = join(dir, 'bad-key.yaml');
    await writeFile(bad, 'identty: {}\n');
    for (const file of [join(dir, 'nope.yaml'), dir, bad]) {
      for (const args of [['start', '--config', file], ['user', 'list', '--config', file], ['config', 'validate', file]]) {
        const r = await gatehouse(args, { cwd: dir, timeoutMs: 20_000 });
        assert.equal(r.status, 1, show(r));
        assert.match(r.stderr, /^error ERR_CONFIG_INVALID: /, `${args.join(' ')}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.equal(r.stdout, '');
      }
    }
  });

  it('an invalid configuration exits 1 listing every problem by key path, before any store is created', async () => {
    const sub = join(dir, 'invalid');
    await mkdir(sub);
    const file = join(sub, 'bad.yaml');
    await writeFile(file, `dataDir: ${join(sub, 'data')}\nidentty: {}\npki: { trustDomain: "Not Valid" }\nbus: { url: "redis://x" }\n`);
    for (const args of [['user', 'list'], ['ca', 'init'], ['policy', 'explain', '--principal', 'user:a', '--method', 'GET', '--url', '/']]) {
      const r = await gatehouse([...args, '--config', file], { cwd: sub });
      assert.equal(r.status, 1, show(r));
      assert.match(r.stderr, /configuration refused: 3 problem\(s\)/);
      assert.match(r.stderr, /\(root\): unknown key\(s\): identty/);
      assert.match(r.stderr, /pki\.trustDomain:/);
      assert.match(r.stderr, /bus\.url:/);
    }
    assert.equal(existsSync(join(sub, 'data')), false, 'nothing was created');
  });

  it('a YAML syntax error and a missing ${ENV} variable are reported', async () => {
    const yaml = join(dir, 'syntax.yaml');
    await writeFile(yaml, 'store: { url: \n  - [\n');
    const a = await gatehouse(['token', 'list', '--config', yaml]);
    assert.equal(a.status, 1);
    assert.match(a.stderr, /not valid YAML\/JSON/);
    const env = join(dir, 'env.yaml');
    await writeFile(env, 'store: { url: "${GH_TEST_UNSET_STORE_URL}" }\n');
    const b = await gatehouse(['token', 'list', '--config', env], { env: { GH_TEST_UNSET_STORE_URL: undefined } });
    assert.equal(b.status, 1);
    assert.match(b.stderr, /store\.url: environment variable GH_TEST_UNSET_STORE_URL is not set/);
  });

  it('without --config, ./gatehouse.yaml is used when present', async () => {
    const sub = join(dir, 'with-file');
    await mkdir(sub);
    await writeFile(join(sub, 'gatehouse.yaml'), `dataDir: ${join(sub, 'state')}\n`);
    const r = await gatehouse(['user', 'list'], { cwd: sub });
    assert.equal(r.status, 0, show(r));
    assert.equal(r.stdout.trim(), '(none)');
    assert.ok(existsSync(join(sub, 'state', 'gatehouse.db')), 'the store of ./gatehouse.yaml was opened');
  });

  it('without --config or ./gatehouse.yaml, built-in defaults apply (./gatehouse-data)', async () => {
    const sub = join(dir, 'bare');
    await mkdir(sub);
    const r = await gatehouse(['client', 'list', '--json'], { cwd: sub });
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(JSON.parse(r.stdout), []);
    assert.ok(existsSync(join(sub, 'gatehouse-data', 'gatehouse.db')));
  });

  it('an unreachable store or bus exits 1 with its error code (fail closed)', async () => {
    const pg = join(dir, 'pg-down.yaml');
    await writeFile(pg, `dataDir: ${join(dir, 'pg-data')}\nstore: { url: "postgres://postgres@127.0.0.1:1/none", connectTimeoutMs: 1000 }\n`);
    const a = await gatehouse(['user', 'list', '--config', pg]);
    assert.equal(a.status, 1, show(a));
    assert.match(a.stderr, /error ERR_STORE_UNAVAILABLE/);
    const nats = join(dir, 'nats-down.yaml');
    await writeFile(nats, `dataDir: ${join(dir, 'nats-data')}\nbus: { url: "nats://127.0.0.1:1" }\n`);
    const b = await gatehouse(['user', 'add', 'dave', '--config', nats]);
    assert.equal(b.status, 1, show(b));
    assert.match(b.stderr, /error ERR_BUS_UNAVAILABLE/);
    assert.ok(!b.stdout.includes('shown once'), 'no password is shown for a user that was not created');
    const same = join(dir, 'nats-data.yaml');
    await writeFile(same, `dataDir: ${join(dir, 'nats-data')}\n`);
    const list = await gatehouse(['user', 'list', '--json', '--config', same]);
    assert.deepEqual(JSON.parse(list.stdout), [], 'the user was not created');
  });

  it('a bad option value exits 1 with commander\'s message', async () => {
    const r = await gatehouse(['token', 'create', '--owner', 'a', '--name', 'b', '--days', '-3'], { cwd: dir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /must be a positive integer/);
  });
});
