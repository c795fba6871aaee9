/**
 * The policy directory watcher follows the directory however it is replaced in practice: a
 * Kubernetes ConfigMap volume (entries `x.cedar -> ..data/x.cedar`), the directory itself a
 * symlink into such a volume, the directory swapped or created after start. Real files,
 * the real engine; each change is applied exactly once, with its content.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine, type ReloadReport } from '../../src/policy/engine.ts';
import { reloadPolicyDirectory, watchPolicyDirectory, type PolicyWatcher } from '../../src/policy/io/policy-files.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';
import { ProjectedVolume } from '../support/projected-volume.ts';
import { inotifyWatchCount, openFdCount } from '../support/inotify.ts';

const alice: AuthorizationRequest = { policySet: 'mail', principal: { kind: 'user', id: 'alice', roles: ['mail-user'] }, action: 'GET', resource: { routeId: 'inbox' }, context: {} };
/** Update `n`: allows alice when n is even, denies her when odd; the comment makes every update's text different. */
function mailPolicy(n: number): string {
  return `// update ${n}\n${n % 2 === 0 ? 'permit(principal in Gatehouse::Role::"mail-user", action, resource);' : 'forbid(principal, action, resource);'}\n`;
}

let base: string;
let engine: PolicyEngine;
let watcher: PolicyWatcher | undefined;
let reports: ReloadReport[];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'gatehouse-policy-watch-'));
  engine = new PolicyEngine();
  reports = [];
});
afterEach(async () => {
  watcher?.close();
  watcher = undefined;
  await rm(base, { recursive: true, force: true });
});

async function watchDir(dir: string, options: { pollMs?: number } = {}): Promise<void> {
  await reloadPolicyDirectory(engine, dir);
  watcher = watchPolicyDirectory(engine, dir, { debounceMs: 50, ...options, onReload: (r) => { reports.push(r); } });
  await watcher.ready;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; reloads so far: ${reports.length}`);
    await sleep(10);
  }
}

async function exactlyReloads(count: number): Promise<void> {
  await until(() => reports.length >= count, `reload ${count}`);
  await sleep(400);
  assert.equal(reports.length, count, 'one reload per change');
}

/** Whether update `n` is the one in force. */
function inForce(n: number): boolean { return engine.authorize(alice).allowed === (n % 2 === 0); }

describe('policy directory watch', () => {
  it('a policy directory that is a ConfigMap volume reloads once per update, after the old directory is deleted too', async () => {
    const volume = new ProjectedVolume(join(base, 'policies'));
    await mkdir(volume.dir);
    await volume.write({ 'mail.cedar': mailPolicy(0) });
    await watchDir(volume.dir);
    assert.ok(inForce(0));
    for (let n = 1; n <= 4; n++) {
      await volume.write({ 'mail.cedar': mailPolicy(n) });
      await exactlyReloads(n);
      assert.deepEqual(reports.at(-1)!.loaded, ['mail']);
      assert.ok(inForce(n), `update ${n} in force`);
    }
  });

  it('a policy directory that is a symlink into a ConfigMap volume (policies -> ..data/policies) reloads once per update', async () => {
    const volume = new ProjectedVolume(join(base, 'etc-gatehouse'));
    await mkdir(volume.dir);
    await volume.write({ 'config.yaml': 'x: 1\n', 'policies/mail.cedar': mailPolicy(0) });
    await watchDir(join(volume.dir, 'policies'));
    for (let n = 1; n <= 4; n++) {
      await volume.write({ 'config.yaml': 'x: 1\n', 'policies/mail.cedar': mailPolicy(n) });
      await exactlyReloads(n);
      assert.ok(inForce(n), `update ${n} in force`);
    }
  });

  it('a policy directory replaced (old one renamed away, new one renamed in) is reloaded, and still watched after', async () => {
    const dir = join(base, 'policies');
    await mkdir(dir);
    await writeFile(join(dir, 'mail.cedar'), mailPolicy(0));
    await watchDir(dir);
    await mkdir(join(base, 'policies.new'));
    await writeFile(join(base, 'policies.new', 'mail.cedar'), mailPolicy(1));
    await rename(dir, join(base, 'policies.old'));
    await rename(join(base, 'policies.new'), dir);
    await exactlyReloads(1);
    assert.ok(inForce(1));
    await writeFile(join(dir, 'mail.cedar'), mailPolicy(2));
    await exactlyReloads(2);
    assert.ok(inForce(2));
  });

  it('a policy directory missing at start is picked up once created', async () => {
    const dir = join(base, 'policies');
    await watchDir(dir);
    assert.equal(engine.authorize(alice).allowed, false, 'no set: denied');
    await mkdir(dir);
    await writeFile(join(dir, 'mail.cedar'), mailPolicy(2));
    await until(() => inForce(2), 'the new set in force');
    const count = reports.length;
    await writeFile(join(dir, 'mail.cedar'), mailPolicy(3));
    await exactlyReloads(count + 1);
    assert.ok(inForce(3));
  });

  it('a policy directory whose parent is swapped through a symlink is picked up by the poll', async () => {
    await mkdir(join(base, 'release-1'));
    await writeFile(join(base, 'release-1', 'mail.cedar'), mailPolicy(0));
    await mkdir(join(base, 'release-2'));
    await writeFile(join(base, 'release-2', 'mail.cedar'), mailPolicy(1));
    await symlink('release-1', join(base, 'current'));
    await watchDir(join(base, 'current'), { pollMs: 300 });
    // `ln -sfn release-2 current`: no event reaches a watch on release-1 or on the directory holding it.
    await symlink('release-2', join(base, 'current.tmp'));
    await rename(join(base, 'current.tmp'), join(base, 'current'));
    await exactlyReloads(1);
    assert.ok(inForce(1));
  });

  it('ten writes within 50 ms end with the last one in force', async () => {
    const dir = join(base, 'policies');
    await mkdir(dir);
    await writeFile(join(dir, 'mail.cedar'), mailPolicy(0));
    await watchDir(dir);
    for (let n = 1; n <= 10; n++) {
      await writeFile(join(dir, 'mail.cedar'), mailPolicy(n));
      await sleep(5);
    }
    await until(() => reports.length > 0, 'a reload');
    await sleep(400);
    assert.deepEqual(reports.at(-1)!.failed, {});
    assert.ok(inForce(10));
  });

  it('fifty ConfigMap updates leave no file descriptor and no inotify watch behind', async () => {
    const volume = new ProjectedVolume(join(base, 'policies'));
    await mkdir(volume.dir);
    await volume.write({ 'mail.cedar': mailPolicy(0) });
    await watchDir(volume.dir);
    const update = async (n: number) => {
      await volume.write({ 'mail.cedar': mailPolicy(n) });
      await until(() => reports.length === n, `reload ${n}`);
    };
    await update(1);
    await sleep(200);
    const fds = openFdCount();
    const watches = inotifyWatchCount();
    assert.ok(watches > 0, 'the directory is watched with inotify');
    for (let n = 2; n <= 51; n++) await update(n);
    await sleep(200);
    assert.ok(inForce(51));
    assert.equal(openFdCount(), fds, 'open file descriptors');
    assert.equal(inotifyWatchCount(), watches, 'inotify watches');
  });
});
