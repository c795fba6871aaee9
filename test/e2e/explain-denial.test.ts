/**
 * "Why was I denied?": a request refused by policy at a running gateway carries a decision
 * id; `gatehouse policy explain --decision ID` (the real CLI, another process) finds that
 * decision in the audit log and prints its reasons.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';

const root = join(import.meta.dirname, '..', '..');

function gatehouse(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'src/cli/main.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('explaining a denial from its decision id', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let token: string;

  before(async () => {
    app = await startUpstream();
    gw = await startGateway({ ratelimit: { edge: { enabled: false } }, upstreams: { app: { url: app.url } }, routes: [] }, { compose: true });
    // Policies next to the config file, as in a real deployment (policy.dir defaults to ./policies).
    await mkdir(join(gw.dataDir, 'policies'));
    await writeFile(join(gw.dataDir, 'policies', 'main.cedar'), '@id("editors-write-docs")\npermit (principal in Gatehouse::Role::"editor", action in Gatehouse::Action::"write", resource == Gatehouse::Route::"docs");\n');
    await gw.writeConfig({ ratelimit: { edge: { enabled: false } }, upstreams: { app: { url: app.url } }, routes: [{ id: 'docs', path: '/docs', upstream: 'app', policy: 'main' }] });
    assert.equal((await gw.gateway.reload('test')).applied, true);
    const idp = identityProviderOf(gw.gateway.extensions)!;
    const viewer = await idp.accounts.addUser({ username: 'viewer', password: 'correct horse battery staple 7', roles: ['viewer'] });
    token = (await idp.apiTokens.create({ ownerSubject: viewer.id, name: 'explain', roles: ['viewer'] })).token;
  });
  after(async () => { await gw.close(); await app.close(); });

  it('a 403 carries a decision id that the CLI resolves, through the audit log, to the policy decision and its reasons', async () => {
    const denied = await gw.fetch('/docs/page', { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'x' });
    assert.equal(denied.status, 403);
    const decisionId = (JSON.parse(denied.body) as { error: { decisionId: string } }).error.decisionId;
    assert.match(decisionId, /^[A-Za-z0-9-]+$/);
    assert.equal(app.received.length, 0);

    // The audit writer commits in small batches; the CLI reads what is committed.
    let result = { code: null as number | null, stdout: '', stderr: '' };
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      result = await gatehouse(['policy', 'explain', '--decision', decisionId, '--config', gw.configFile]);
      if (result.code !== 2 || !/not found|no decision/i.test(result.stdout + result.stderr)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const out = result.stdout + result.stderr;
    assert.match(out, new RegExp(decisionId));
    assert.match(out, /deny|denied/i);
    assert.match(out, /default|no permit|editors-write-docs/i, out);
    // Explaining a recorded decision succeeds whatever the decision was (exit 2 = lookup failed).
    assert.equal(result.code, 0, `explain exit code (output: ${out})`);
  });
});
