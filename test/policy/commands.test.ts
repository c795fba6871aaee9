import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type Config } from '../../src/core/config/schema.ts';
import { policyTestCommand } from '../../src/policy/commands/test.ts';
import { policyDiffCommand, replayLine } from '../../src/policy/commands/diff.ts';
import { policyExplainCommand } from '../../src/policy/commands/explain.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { reloadPolicyDirectory } from '../../src/policy/io/policy-files.ts';
import type { AuthorizationRequest } from '../../src/policy/types.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const DIRECTORY = { roles: { admin: ['mail-user'] }, routeGroups: { admin: ['admin-console'] } };
let tmp: string;
before(async () => { tmp = await mkdtemp(join(tmpdir(), 'gatehouse-policy-cmd-')); });
after(async () => { await rm(tmp, { recursive: true, force: true }); });

describe('policy test', () => {
  test('passes the fixture cases with exit code 0', async () => {
    const r = await policyTestCommand(join(FIXTURES, 'mail.policytest.yaml'));
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /# 7 cases, 7 passed, 0 failed/);
  });

  test('a case whose expectation does not hold fails with exit code 1 and an explanation', async () => {
    const yaml = (await readFile(join(FIXTURES, 'mail.policytest.yaml'), 'utf8'))
      .replace('policies: ./policies', `policies: ${join(FIXTURES, 'policies')}`)
      .replace(/name: a user without the role does not\n(.*\n){2}    expect: deny/, (m) => m.replace('expect: deny', 'expect: allow'));
    const file = join(tmp, 'failing.policytest.yaml');
    await writeFile(file, yaml);
    const r = await policyTestCommand(file);
    assert.equal(r.exitCode, 1);
    assert.match(r.output, /not ok 3 - a user without the role does not: expected allow, got deny/);
    assert.match(r.output, /default deny/);
    assert.match(r.output, /# 7 cases, 6 passed, 1 failed/);
  });

  test('accepts JSON, and checks an expected reason', async () => {
    const file = join(tmp, 'cases.json');
    await writeFile(file, JSON.stringify({
      policies: join(FIXTURES, 'policies'), policySet: 'mail', roles: DIRECTORY.roles,
      cases: [{ name: 'wrong reason', principal: 'user:alice', roles: ['mail-user'], request: { method: 'GET', route: 'inbox' }, expect: 'allow', reason: 'mail-api-to-store' }],
    }));
    const r = await policyTestCommand(file);
    assert.equal(r.exitCode, 1);
    assert.match(r.output, /expected reason mail-api-to-store, got mail-users-read-write/);
  });

  test('an invalid test file is exit code 2 with the path of the problem', async () => {
    const file = join(tmp, 'bad.yaml');
    await writeFile(file, 'cases:\n  - name: x\n    principal: alice\n    request: { method: GET, route: inbox }\n    expect: maybe\n');
    const r = await policyTestCommand(file);
    assert.equal(r.exitCode, 2);
    assert.match(r.output, /cases\.0\.principal/);
    assert.match(r.output, /cases\.0\.expect/);
  });
});

describe('policy diff', () => {
  async function recordedRequests(): Promise<string> {
    const engine = new PolicyEngine();
    engine.setDirectory(DIRECTORY);
    await reloadPolicyDirectory(engine, join(FIXTURES, 'policies'));
    const requests: AuthorizationRequest[] = [
      { policySet: 'mail', principal: { kind: 'user', id: 'alice', roles: ['mail-user'] }, action: 'GET', resource: { routeId: 'inbox' }, context: { path: '/mail/inbox' } },
      { policySet: 'mail', principal: { kind: 'service', id: 'mailer', roles: [] }, action: 'POST', resource: { routeId: 'outbox', upstream: 'mail-store' }, context: { path: '/internal/outbox' } },
      { policySet: 'mail', principal: { kind: 'service', id: 'mail-api', roles: [] }, action: 'GET', resource: { routeId: 'store', upstream: 'mail-store' }, context: { path: '/internal/store/messages/1' } },
      { policySet: 'admin', principal: { kind: 'user', id: 'bob', roles: [] }, action: 'GET', resource: { routeId: 'admin-console' }, context: {} },
    ];
    const file = join(tmp, 'replay.jsonl');
    await writeFile(file, requests.map((r) => replayLine(engine.authorize(r), r)).join('\n') + '\n');
    return file;
  }

  test('lists every decision a candidate would change, exit code 1', async () => {
    const replay = await recordedRequests();
    const candidate = join(tmp, 'candidate');
    await cp(join(FIXTURES, 'policies'), candidate, { recursive: true });
    // The candidate drops mailer's outbox rule and lets everyone see the admin console.
    const mail = await readFile(join(candidate, 'mail.cedar'), 'utf8');
    await writeFile(join(candidate, 'mail.cedar'), mail.slice(0, mail.indexOf('// mailer may only post')));
    await writeFile(join(candidate, 'admin.cedar'), '@id("open") permit(principal, action, resource);');
    const r = await policyDiffCommand({ current: join(FIXTURES, 'policies'), candidate, replay, directory: DIRECTORY });
    assert.equal(r.exitCode, 1, r.output);
    const lines = r.output.split('\n');
    assert.equal(lines.filter((l) => l.includes('→')).length, 2, r.output);
    assert.ok(lines.some((l) => l.includes('Gatehouse::Service::"mailer"') && l.includes('allow → deny (no-permit)')), r.output);
    assert.ok(lines.some((l) => l.includes('Gatehouse::User::"bob"') && l.includes('deny → allow (permit: open)')), r.output);
    assert.match(r.output, /# 4 decisions replayed, 2 would change/);
  });

  test('an identical candidate changes nothing, exit code 0', async () => {
    const replay = await recordedRequests();
    const r = await policyDiffCommand({ current: join(FIXTURES, 'policies'), candidate: join(FIXTURES, 'policies'), replay, directory: DIRECTORY });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /4 decisions replayed, 0 would change/);
  });

  test('a malformed replay line is reported with its line number, exit code 2', async () => {
    const file = join(tmp, 'broken.jsonl');
    await writeFile(file, '{"request": {"principal": {"kind": "robot", "id": "x"}, "action": "GET", "resource": {"routeId": "r"}}}\nnot json\n');
    const r = await policyDiffCommand({ current: join(FIXTURES, 'policies'), candidate: join(FIXTURES, 'policies'), replay: file });
    assert.equal(r.exitCode, 2);
    assert.match(r.output, /broken\.jsonl:1: request\.principal\.kind/);
    assert.match(r.output, /broken\.jsonl:2:/);
  });
});

describe('policy explain', () => {
  function config(): Config {
    const c = configSchema.parse({
      upstreams: { 'mail-web': { url: 'http://127.0.0.1:1' }, web: { url: 'http://127.0.0.1:1' } },
      routes: [
        { id: 'inbox', path: '/mail/inbox', upstream: 'mail-web', policy: 'mail' },
        { id: 'home', path: '/', upstream: 'web', access: 'public' },
      ],
      policy: { dir: join(FIXTURES, 'policies'), ...DIRECTORY },
    });
    return { ...c, mode: 'development' };
  }

  test('explains an allow with the determining policy, exit code 0', async () => {
    const r = await policyExplainCommand({ config: config(), principal: 'user:alice', roles: ['mail-user'], method: 'get', url: 'https://mail.example/mail/inbox?page=2' });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /route inbox/);
    assert.match(r.output, /mail-users-read-write \(mail\.cedar:2\)/);
  });

  test('explains a deny, exit code 1', async () => {
    const r = await policyExplainCommand({ config: config(), principal: 'user:bob', method: 'GET', url: '/mail/inbox' });
    assert.equal(r.exitCode, 1);
    assert.match(r.output, /^route inbox\nDENY/);
    assert.match(r.output, /default deny/);
  });

  test('says when a route is public and when the router refuses the path', async () => {
    assert.match((await policyExplainCommand({ config: config(), principal: 'user:bob', method: 'GET', url: '/about' })).output, /public/);
    const refused = await policyExplainCommand({ config: config(), principal: 'user:bob', method: 'GET', url: '/mail/inbox/..%2f..%2fadmin' });
    assert.equal(refused.exitCode, 1);
    assert.match(refused.output, /refuses this path before routing/);
  });
});
