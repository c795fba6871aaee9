/**
 * Decisions explainable and replayable from the audit log: the `policy.decision` event
 * carries the inputs the set reads (and nothing else), the real audit writer stores it
 * (redacted) in a SQLite store, and `policy diff` / `policy explain --decision` read it
 * back through the audit query.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routeSchema, upstreamSchema } from '../../src/core/config/gateway-schema.ts';
import type { PolicyDecisionEvent } from '../../src/core/events.ts';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { viewRecord, queryAudit } from '../../src/audit/query.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { RequestContext, type Identity } from '../../src/gateway/context.ts';
import type { Generation } from '../../src/gateway/generation.ts';
import { createAuthorizeStage } from '../../src/gateway/pipeline/authorize.ts';
import { compileRouter } from '../../src/gateway/router/router.ts';
import { policyDiffCommand } from '../../src/policy/commands/diff.ts';
import { policyExplainDecisionCommand } from '../../src/policy/commands/explain-decision.ts';
import { replayRecord } from '../../src/policy/commands/replay-record.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { openStore, type Store } from '../../src/store/index.ts';

const POLICIES = [
  '@id("staff-read") permit(principal in Gatehouse::Role::"staff", action in Gatehouse::Action::"read", resource == Gatehouse::Route::"docs") when { principal has department && principal.department == "eng" };',
  '@id("tenant-block") forbid(principal, action, resource) when { context has headers && context.headers has "x-tenant" && context.headers["x-tenant"] == "blocked" };',
].join('\n');

const router = compileRouter([routeSchema.parse({ id: 'docs', path: '/docs', upstream: 'app', policy: 'main' })], { app: upstreamSchema.parse({ url: 'http://127.0.0.1:1' }) }, { maxBodyBytes: 1024 });
const docs = router.routes[0]!;

function identity(subject: string, attributes: Record<string, unknown>, roles = ['staff']): Identity {
  return { subject, kind: 'user', roles, method: 'jwt', amr: ['pwd'], authTime: 1_700_000_000, mfaTime: undefined, credentialId: 'jti-secret-id', issuer: 'https://idp.example', attributes };
}

function ctxFor(id: Identity, headers: Record<string, string>): RequestContext {
  const message = new IncomingMessage(new Socket());
  Object.assign(message.headers, headers);
  const ctx = new RequestContext(message, new ServerResponse(message), {} as Generation);
  ctx.requestId = randomUUID();
  ctx.method = 'GET';
  ctx.path = '/docs/page';
  ctx.host = 'docs.example';
  ctx.clientAddress = '192.0.2.10';
  ctx.route = docs;
  ctx.identity = id;
  return ctx;
}

let dir: string;
let store: Store;
let policiesDir: string;
const events: PolicyDecisionEvent[] = [];

/** Runs requests through the real authorize stage; returns the decision ids (denied or not). */
function decide(engine: PolicyEngine, cases: { id: Identity; headers?: Record<string, string> }[]): string[] {
  const stage = createAuthorizeStage({ engine, contextHeaders: ['x-tenant', 'authorization', 'cookie'], publish: (e) => events.push(e) });
  return cases.map(({ id, headers }) => {
    const ctx = ctxFor(id, headers ?? {});
    try { stage(ctx); } catch { /* denied: the id is still set */ }
    return ctx.decisionId!;
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-policy-replay-'));
  store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
  await store.migrate();
  policiesDir = join(dir, 'policies');
  await mkdir(policiesDir);
  await writeFile(join(policiesDir, 'main.cedar'), POLICIES);
});

after(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('policy.decision inputs', () => {
  test('record only the attributes and context fields the set reads, never credential headers', () => {
    events.length = 0;
    const engine = new PolicyEngine();
    engine.load('main', { policies: POLICIES });
    decide(engine, [{ id: identity('alice', { department: 'eng', email: 'alice@example.com', salary: 100 }), headers: { 'x-tenant': 'acme', authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig', cookie: 'sid=secret' } }]);
    const input = events[0]!.input!;
    assert.deepEqual(input.principal, { kind: 'user', id: 'alice', roles: ['staff'], attributes: { department: 'eng' } });
    assert.deepEqual(input.context, { headers: { 'x-tenant': 'acme' } });
    assert.deepEqual(input.recorded, { attributes: ['department'], context: ['headers'] });
    assert.deepEqual(input.resource, { routeId: 'docs', upstream: 'app', path: '/docs', host: '*' });
    assert.equal(input.action, 'GET');
    const text = JSON.stringify(events[0]);
    for (const secret of ['Bearer', 'eyJ', 'sid=secret', 'jti-secret-id', 'salary', 'alice@example.com']) assert.ok(!text.includes(secret), `${secret} leaked into ${text}`);
  });

  test('a set that reads attributes through a computed expression records them all', () => {
    events.length = 0;
    const engine = new PolicyEngine();
    engine.load('main', { policies: 'permit(principal, action, resource) when { (if true then principal else principal).level > 1 };' });
    decide(engine, [{ id: identity('bob', { level: 2, team: 'x', __entity: { type: 'Gatehouse::Role', id: 'admin' } }) }]);
    const input = events[0]!.input!;
    assert.equal(input.recorded.attributes, 'all');
    // Recorded as Cedar saw it: the `__entity` smuggling attempt is gone.
    assert.deepEqual(input.principal.attributes, { level: 2, team: 'x' });
  });
});

describe('replay and explain from the audit log (real audit writer, SQLite)', () => {
  let deniedId: string;
  let allowedId: string;

  before(async () => {
    events.length = 0;
    const engine = new PolicyEngine();
    await writeFile(join(policiesDir, 'main.cedar'), POLICIES);
    engine.load('main', { policies: POLICIES });
    [allowedId, deniedId] = decide(engine, [
      { id: identity('alice', { department: 'eng' }) },
      { id: identity('carol', { department: 'eng' }), headers: { 'x-tenant': 'blocked' } },
      { id: identity('dave', { department: 'sales' }) },
    ]) as [string, string, string];
    const writer = AuditWriter.open({ store, instance: 'test', spoolDir: join(dir, 'spool'), fsync: false });
    const redactor = createRedactor();
    for (const payload of events) {
      writer.append(draftFromEnvelope({ id: randomUUID(), time: new Date().toISOString(), instance: 'test', name: 'policy.decision', payload }, redactor));
    }
    await writer.flush();
    await writer.close();
  });

  test('explain --decision resolves a denied id to its forbid and the policy text', async () => {
    const r = await policyExplainDecisionCommand({ store, decisionId: deniedId, policies: policiesDir });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, new RegExp(`^DENY — decision ${deniedId}`));
    assert.match(r.output, /forbidden by:\n {2}- tenant-block \(main\.cedar:2\)/);
    assert.match(r.output, /today: the policies in force would decide the same/);
    assert.match(r.output, /"x-tenant":"blocked"/);
  });

  test('explain --decision with an unknown id is exit 1, with a malformed id exit 2', async () => {
    assert.equal((await policyExplainDecisionCommand({ store, decisionId: randomUUID() })).exitCode, 1);
    assert.equal((await policyExplainDecisionCommand({ store, decisionId: "x' OR 1=1 --" })).exitCode, 2);
    assert.notEqual(allowedId, deniedId);
  });

  test('diff --since replays the audit log under a candidate and lists what changes', async () => {
    const candidate = join(dir, 'candidate');
    await mkdir(candidate, { recursive: true });
    // The candidate drops the tenant block: carol's denied request would now be allowed.
    await writeFile(join(candidate, 'main.cedar'), POLICIES.split('\n')[0]!);
    const r = await policyDiffCommand({ current: policiesDir, candidate, audit: { store, since: new Date(Date.now() - 3_600_000) } });
    assert.equal(r.exitCode, 1, r.output);
    assert.match(r.output, new RegExp(`${deniedId}: Gatehouse::User::"carol" .* deny → allow \\(permit: staff-read\\)`));
    assert.match(r.output, /# 3 decisions replayed, 1 would change/);
  });

  test('diff reads `audit query` JSON lines too, and flags facts the candidate reads that were not recorded', async () => {
    const lines: string[] = [];
    for await (const rec of queryAudit(store, { event: 'policy.decision' })) lines.push(JSON.stringify(viewRecord(rec)));
    const file = join(dir, 'audit.jsonl');
    await writeFile(file, lines.join('\n') + '\n');
    const candidate = join(dir, 'candidate-mfa');
    await mkdir(candidate, { recursive: true });
    // Reads context.mfaAge, which the policies in force never read: it was not recorded.
    await writeFile(join(candidate, 'main.cedar'), `${POLICIES}\n@id("mfa") forbid(principal, action, resource) unless { context has mfaAge };`);
    const r = await policyDiffCommand({ current: policiesDir, candidate, replay: file });
    assert.equal(r.exitCode, 1, r.output);
    assert.match(r.output, /allow → deny \(forbid: mfa\) \[not recorded, replayed as absent: context\.mfaAge\]/);
    assert.match(r.output, /3 replayed without facts the candidate reads/);
  });

  test('replayRecord refuses a record of another event and a decision recorded without inputs', () => {
    assert.equal(replayRecord({ event: 'gateway.request', details: '{}' }).ok, false);
    const noInput = replayRecord({ ...events[0]!, input: undefined });
    assert.equal(noInput.ok, false);
    assert.equal(!noInput.ok && noInput.noInput, true);
  });
});
