/**
 * Hot reload from the policy directory: an invalid policy never becomes active, the
 * previous version keeps serving, a later valid edit is picked up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine, type ReloadReport } from '../../src/policy/engine.ts';
import { readPolicyDirectory, reloadPolicyDirectory, watchPolicyDirectory } from '../../src/policy/io/policy-files.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'gatehouse-policy-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

const alice: AuthorizationRequest = { policySet: 'mail', principal: { kind: 'user', id: 'alice', roles: ['mail-user'] }, action: 'GET', resource: { routeId: 'inbox' }, context: {} };
const ALLOW = 'permit(principal in Gatehouse::Role::"mail-user", action, resource);';
const DENY = 'forbid(principal, action, resource);';

test('reload with an invalid policy keeps the old one serving; a valid edit then takes over', async () => {
  const engine = new PolicyEngine();
  await writeFile(join(dir, 'mail.cedar'), ALLOW);
  assert.deepEqual((await reloadPolicyDirectory(engine, dir)).loaded, ['mail']);
  assert.equal(engine.authorize(alice).allowed, true);

  await writeFile(join(dir, 'mail.cedar'), `${DENY}\npermit(principal, action`);
  const bad = await reloadPolicyDirectory(engine, dir);
  assert.deepEqual(Object.keys(bad.failed), ['mail']);
  assert.equal(engine.authorize(alice).allowed, true, 'the previous version still serves');

  await writeFile(join(dir, 'mail.cedar'), DENY);
  assert.deepEqual((await reloadPolicyDirectory(engine, dir)).loaded, ['mail']);
  assert.equal(engine.authorize(alice).allowed, false);
});

test('a schema file next to the set is used for strict validation', async () => {
  const sub = await mkdtemp(join(dir, 'schema-'));
  await writeFile(join(sub, 'hr.cedar'), 'permit(principal, action, resource) when { principal.grade > 3 };');
  await writeFile(join(sub, 'hr.cedarschema'), 'namespace Gatehouse { entity User { grade: Long }; entity Route; action "GET" appliesTo { principal: [User], resource: [Route] }; }');
  const sources = await readPolicyDirectory(sub);
  assert.equal(typeof sources.hr?.schema, 'string');
  const engine = new PolicyEngine();
  assert.deepEqual(engine.replaceAll(sources).loaded, ['hr']);
  await writeFile(join(sub, 'hr.cedar'), 'permit(principal, action, resource) when { principal.grade == "senior" };');
  const report = engine.replaceAll(await readPolicyDirectory(sub));
  assert.deepEqual(Object.keys(report.failed), ['hr'], 'comparing a Long with a String is refused by the validator');
});

test('a missing policy directory is an empty collection (every policy route denied)', async () => {
  assert.deepEqual(await readPolicyDirectory(join(dir, 'does-not-exist')), {});
});

test('the directory watcher reloads on change and refuses an invalid edit', async () => {
  const sub = await mkdtemp(join(dir, 'watch-'));
  await writeFile(join(sub, 'mail.cedar'), ALLOW);
  const engine = new PolicyEngine();
  await reloadPolicyDirectory(engine, sub);
  const reports: ReloadReport[] = [];
  let wake: () => void = () => {};
  const watcher = watchPolicyDirectory(engine, sub, { debounceMs: 20, onReload: (r) => { reports.push(r); wake(); } });
  try {
    const next = () => new Promise<void>((resolve) => { wake = resolve; });
    let waiting = next();
    await writeFile(join(sub, 'mail.cedar'), 'permit(principal');
    await waiting;
    assert.deepEqual(Object.keys(reports.at(-1)!.failed), ['mail']);
    assert.equal(engine.authorize(alice).allowed, true);
    waiting = next();
    await writeFile(join(sub, 'mail.cedar'), DENY);
    await waiting;
    // Editors may write in several steps; wait until the final content is in.
    while (!reports.at(-1)!.loaded.includes('mail')) { waiting = next(); await waiting; }
    assert.equal(engine.authorize(alice).allowed, false);
  } finally {
    watcher.close();
  }
});
