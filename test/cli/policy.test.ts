/** `gatehouse policy explain|test|diff` through the real CLI, on the policy area's fixtures. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { gatehouse, show } from './support/cli.ts';

const FIXTURES = join(import.meta.dirname, '..', 'policy', 'fixtures');
const ROLES = { admin: ['mail-user'] };

describe('policy commands', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-cli-policy-'));
    await cp(join(FIXTURES, 'policies'), join(dir, 'policies'), { recursive: true });
    config = join(dir, 'gatehouse.yaml');
    // policy.dir is relative to the configuration file, as in a deployment directory.
    await writeFile(config, stringify({
      dataDir: join(dir, 'data'),
      upstreams: { 'mail-web': { url: 'http://127.0.0.1:1' }, web: { url: 'http://127.0.0.1:1' } },
      routes: [
        { id: 'inbox', path: '/mail/inbox', upstream: 'mail-web', policy: 'mail' },
        { id: 'home', path: '/', upstream: 'web', access: 'public' },
      ],
      policy: { dir: 'policies', roles: ROLES, routeGroups: { admin: ['admin-console'] } },
    }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('policy test passes the fixture cases, exit 0', async () => {
    const r = await gatehouse(['policy', 'test', join(FIXTURES, 'mail.policytest.yaml')]);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /# 7 cases, 7 passed, 0 failed/);
  });

  it('policy test with a failing case exits 1 and explains it', async () => {
    const yaml = (await readFile(join(FIXTURES, 'mail.policytest.yaml'), 'utf8'))
      .replace(/name: a user without the role does not\n(.*\n){2}    expect: deny/, (m) => m.replace('expect: deny', 'expect: allow'));
    const file = join(dir, 'failing.policytest.yaml');
    await writeFile(file, yaml);
    const r = await gatehouse(['policy', 'test', file]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stdout, /not ok 3 - a user without the role does not: expected allow, got deny/);
    assert.match(r.stdout, /# 7 cases, 6 passed, 1 failed/);
  });

  it('policy test with an unreadable file exits 2 on stderr', async () => {
    const r = await gatehouse(['policy', 'test', join(dir, 'missing.yaml')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing\.yaml: ENOENT/);
  });

  it('policy explain routes the URL and explains an allow (exit 0) and a deny (exit 1)', async () => {
    const allow = await gatehouse(['policy', 'explain', '--principal', 'user:alice', '--role', 'mail-user', '--method', 'get', '--url', '/mail/inbox?page=2'], { cwd: dir });
    assert.equal(allow.status, 0, show(allow));
    assert.match(allow.stdout, /route inbox/);
    assert.match(allow.stdout, /mail-users-read-write \(mail\.cedar:2\)/);

    const deny = await gatehouse(['policy', 'explain', '--config', config, '--principal', 'user:bob', '--method', 'GET', '--url', '/mail/inbox']);
    assert.equal(deny.status, 1, show(deny));
    assert.match(deny.stdout, /^route inbox\nDENY/);

    const admin = await gatehouse(['policy', 'explain', '--config', config, '--principal', 'user:root', '--role', 'admin', '--method', 'GET', '--url', '/mail/inbox']);
    assert.equal(admin.status, 0, `the role hierarchy comes from the configuration\n${show(admin)}`);

    const traversal = await gatehouse(['policy', 'explain', '--config', config, '--principal', 'user:alice', '--role', 'mail-user', '--method', 'GET', '--url', '/mail/inbox/..%2f..%2fadmin']);
    assert.equal(traversal.status, 1, 'an encoded path separator is refused before routing');
    assert.match(traversal.stdout, /refuses this path before routing/);
  });

  it('policy explain refuses malformed --context and --at with exit 2', async () => {
    const base = ['policy', 'explain', '--config', config, '--principal', 'user:alice', '--method', 'GET', '--url', '/mail/inbox'];
    const ctx = await gatehouse([...base, '--context', '{"mfaTime":"yesterday"}']);
    assert.equal(ctx.status, 2);
    assert.match(ctx.stderr, /--context: mfaTime/);
    const proto = await gatehouse([...base, '--context', '{"__proto__":{"x":1}}']);
    assert.equal(proto.status, 2, show(proto));
    const at = await gatehouse([...base, '--at', 'not a time']);
    assert.equal(at.status, 2);
    assert.match(at.stderr, /--at: "not a time" is not a time/);
  });

  it('policy explain --at and policy diff --since refuse a day that does not exist and text Date.parse only guesses at (exit 2), instead of evaluating another time', async () => {
    const base = ['policy', 'explain', '--config', config, '--principal', 'user:alice', '--role', 'mail-user', '--method', 'GET', '--url', '/mail/inbox'];
    for (const at of ['2026-02-30T10:00:00Z', '2026-01-01 12:00 PM', '12']) {
      const r = await gatehouse([...base, '--at', at]);
      assert.equal(r.status, 2, `--at ${at}\n${show(r)}`);
      assert.match(r.stderr, /--at: .* is not a time/);
    }
    const ok = await gatehouse([...base, '--at', '2026-02-28T10:00:00Z']);
    assert.equal(ok.status, 0, show(ok));
    const diff = await gatehouse(['policy', 'diff', '--config', config, '--candidate', join(dir, 'policies'), '--since', '2026-02-30']);
    assert.equal(diff.status, 2, show(diff));
    assert.match(diff.stderr, /--since\/--until: not a time/);
    const explain = await gatehouse(['policy', 'explain', '--config', config, '--decision', 'd1', '--since', '2026-04-31']);
    assert.equal(explain.status, 2, show(explain));
  });

  it('policy diff lists the decisions a candidate changes (exit 1) and none for the same policies (exit 0)', async () => {
    const request = (principal: object, action: string, routeId: string, path: string) => ({ policySet: 'mail', principal, action, resource: { routeId }, context: { path } });
    const replay = join(dir, 'replay.jsonl');
    await writeFile(replay, [
      { request: request({ kind: 'user', id: 'alice', roles: ['mail-user'] }, 'GET', 'inbox', '/mail/inbox'), decisionId: 'd1', allowed: true },
      { request: request({ kind: 'user', id: 'bob', roles: [] }, 'GET', 'inbox', '/mail/inbox'), decisionId: 'd2', allowed: false },
    ].map((l) => JSON.stringify(l)).join('\n') + '\n');

    const same = await gatehouse(['policy', 'diff', '--config', config, '--candidate', join(dir, 'policies'), '--replay', replay]);
    assert.equal(same.status, 0, show(same));
    assert.match(same.stdout, /# 2 decisions replayed, 0 would change/);

    const candidate = join(dir, 'candidate');
    await cp(join(dir, 'policies'), candidate, { recursive: true });
    await writeFile(join(candidate, 'mail.cedar'), '@id("everyone-reads") permit(principal, action == Gatehouse::Action::"GET", resource);');
    const changed = await gatehouse(['policy', 'diff', '--candidate', candidate, '--replay', replay], { cwd: dir });
    assert.equal(changed.status, 1, show(changed));
    assert.match(changed.stdout, /d2: .*"bob".*deny → allow \(permit: everyone-reads\)/);
    assert.match(changed.stdout, /# 2 decisions replayed, 1 would change/);
  });
});
