/**
 * The configuration file is reloaded by itself whichever way it is replaced in practice:
 * a Kubernetes ConfigMap volume update, an editor or an atomic writer, a write in place, a
 * file deleted and written again, its directory swapped. Real files in a temporary
 * directory, a real gateway; each change must be applied exactly once, with its content.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Gateway, type ReloadOutcome } from '../../src/gateway/gateway.ts';
import { captureLogger, testConfig } from '../support/gateway.ts';
import { ProjectedVolume } from '../support/projected-volume.ts';
import { inotifyWatchCount, openFdCount } from '../support/inotify.ts';

let base: string;
let dataDir: string;
let gateway: Gateway | undefined;
let outcomes: ReloadOutcome[];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'gatehouse-config-watch-'));
  dataDir = join(base, 'data');
  outcomes = [];
});
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  await rm(base, { recursive: true, force: true });
});

/** A valid configuration whose only route is named `v<n>`: the route id tells which file is in force. */
function configText(n: number): string {
  return stringify(testConfig(dataDir, {
    upstreams: { app: { url: 'http://127.0.0.1:9' } },
    routes: [{ id: `v${n}`, path: `/v${n}`, upstream: 'app', access: 'public' }],
  }));
}

async function start(configFile: string): Promise<Gateway> {
  const { logger } = captureLogger();
  gateway = await Gateway.start({ configFile, logger, watch: true, extensions: [{ name: 'probe', onReload: (o) => { outcomes.push(o); } }] });
  return gateway;
}

function inForce(): string | undefined { return gateway!.config.routes[0]?.id; }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; reloads so far: ${JSON.stringify(outcomes.map((o) => o.applied ? o.config.routes[0]?.id : 'refused'))}`);
    await sleep(10);
  }
}

/** Waits for reload number `count`, then long enough that a second reload of the same change would have shown. */
async function exactlyReloads(count: number): Promise<void> {
  await until(() => outcomes.length >= count, `reload ${count}`);
  await sleep(500);
  assert.equal(outcomes.length, count, 'one reload per change');
}

describe('configuration file watch', () => {
  it('a ConfigMap volume update (new ..data, old directory deleted) reloads once with the new content, update after update', async () => {
    const volume = new ProjectedVolume(join(base, 'etc-gatehouse'));
    await mkdir(volume.dir);
    await volume.write({ 'config.yaml': configText(1) });
    await start(join(volume.dir, 'config.yaml'));
    for (let n = 2; n <= 5; n++) {
      await volume.write({ 'config.yaml': configText(n) });
      await exactlyReloads(n - 1);
      assert.equal(inForce(), `v${n}`);
    }
  });

  it('a ConfigMap update that changes another key only does not reload', async () => {
    const volume = new ProjectedVolume(join(base, 'etc-gatehouse'));
    await mkdir(volume.dir);
    await volume.write({ 'config.yaml': configText(1), 'other.txt': 'a' });
    await start(join(volume.dir, 'config.yaml'));
    await volume.write({ 'config.yaml': configText(1), 'other.txt': 'b' });
    await sleep(700);
    assert.equal(outcomes.length, 0);
    await volume.write({ 'config.yaml': configText(2), 'other.txt': 'b' });
    await exactlyReloads(1);
    assert.equal(inForce(), 'v2');
  });

  it('a change written while the gateway starts (after the file was read, before it is watched) is reloaded', async () => {
    const file = join(base, 'gatehouse.yaml');
    await writeFile(file, configText(1));
    const { logger } = captureLogger();
    gateway = await Gateway.start({
      configFile: file, logger, watch: true,
      extensions: [{ name: 'probe', onReload: (o) => { outcomes.push(o); } }],
      // Runs after the file was read and before the watch is armed.
      compose: async () => { await writeFile(file, configText(2)); return []; },
    });
    await exactlyReloads(1);
    assert.equal(inForce(), 'v2');
  });

  it('a file replaced by rename (atomic writer, kubectl cp) reloads once per replacement', async () => {
    const file = join(base, 'gatehouse.yaml');
    await writeFile(file, configText(1));
    await start(file);
    for (let n = 2; n <= 4; n++) {
      await writeFile(`${file}.tmp-${n}`, configText(n));
      await rename(`${file}.tmp-${n}`, file);
      await exactlyReloads(n - 1);
      assert.equal(inForce(), `v${n}`);
    }
  });

  it('a vim-style save (original renamed to a backup, new file written, backup deleted) reloads once', async () => {
    const file = join(base, 'gatehouse.yaml');
    await writeFile(file, configText(1));
    await start(file);
    for (let n = 2; n <= 3; n++) {
      await rename(file, `${file}~`);
      await writeFile(file, configText(n));
      await rm(`${file}~`);
      await exactlyReloads(n - 1);
      assert.equal(inForce(), `v${n}`);
    }
  });

  it('a file truncated, then written in pieces: the empty and the cut-short file are refused, the complete one applied', async () => {
    const file = join(base, 'gatehouse.yaml');
    await writeFile(file, configText(1));
    await start(file);
    const full = configText(2);
    const handle = await open(file, 'w');
    try {
      await until(() => outcomes.length === 1, 'the reload of the empty file');
      assert.equal(outcomes[0]!.applied, false, 'an empty file (a write under way) is refused');
      assert.equal(inForce(), 'v1');
      // Cut inside the route's flow mapping: not a document yet.
      await handle.write(full.slice(0, full.indexOf('path:')));
      await until(() => outcomes.length === 2, 'the reload of the cut-short file');
      assert.equal(outcomes[1]!.applied, false);
      assert.equal(inForce(), 'v1');
      await handle.write(full.slice(full.indexOf('path:')));
    } finally {
      await handle.close();
    }
    await exactlyReloads(3);
    assert.equal(outcomes[2]!.applied, true);
    assert.equal(inForce(), 'v2');
  });

  it('a file deleted and written again 400 ms later is reloaded, and still watched after', async () => {
    const file = join(base, 'gatehouse.yaml');
    await writeFile(file, configText(1));
    await start(file);
    await rm(file);
    await until(() => outcomes.length === 1, 'the reload of the missing file');
    assert.equal(outcomes[0]!.applied, false);
    assert.equal(inForce(), 'v1', 'a missing file is refused; the configuration in force stays');
    await sleep(400);
    await writeFile(file, configText(2));
    await exactlyReloads(2);
    assert.equal(inForce(), 'v2');
    await writeFile(file, configText(3));
    await exactlyReloads(3);
    assert.equal(inForce(), 'v3');
  });

  it('the file\'s directory replaced (old one renamed away, new one renamed in) is reloaded, and still watched after', async () => {
    const dir = join(base, 'conf');
    await mkdir(dir);
    await writeFile(join(dir, 'gatehouse.yaml'), configText(1));
    await start(join(dir, 'gatehouse.yaml'));
    await mkdir(join(base, 'conf.new'));
    await writeFile(join(base, 'conf.new', 'gatehouse.yaml'), configText(2));
    await rename(dir, join(base, 'conf.old'));
    await rename(join(base, 'conf.new'), dir);
    await exactlyReloads(1);
    assert.equal(inForce(), 'v2');
    await rm(join(base, 'conf.old'), { recursive: true });
    await writeFile(join(dir, 'gatehouse.yaml'), configText(3));
    await exactlyReloads(2);
    assert.equal(inForce(), 'v3');
  });

  it('ten writes in place within 50 ms end with the last one in force', async () => {
    const file = join(base, 'gatehouse.yaml');
    await writeFile(file, configText(1));
    await start(file);
    for (let n = 2; n <= 11; n++) {
      await writeFile(file, configText(n));
      await sleep(5);
    }
    await until(() => inForce() === 'v11', 'the last write in force');
    await sleep(500);
    assert.equal(inForce(), 'v11');
    assert.equal(outcomes.at(-1)!.applied, true);
  });

  it('fifty reloads leave no file descriptor and no inotify watch behind', async () => {
    const file = join(base, 'gatehouse.yaml');
    await writeFile(file, configText(1));
    await start(file);
    const replace = async (n: number) => {
      await writeFile(`${file}.tmp`, configText(n));
      await rename(`${file}.tmp`, file);
      await until(() => inForce() === `v${n}`, `v${n} in force`);
    };
    await replace(2);
    await sleep(300);
    const fds = openFdCount();
    const watches = inotifyWatchCount();
    assert.ok(watches > 0, 'the file is watched with inotify');
    for (let n = 3; n <= 52; n++) await replace(n);
    await sleep(300);
    assert.equal(outcomes.filter((o) => o.applied).length, 51);
    assert.equal(openFdCount(), fds, 'open file descriptors');
    assert.equal(inotifyWatchCount(), watches, 'inotify watches');
  });
});
