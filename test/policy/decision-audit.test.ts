/**
 * "Why was I denied", end to end: a real composed Gatehouse publishes its `policy.decision`
 * events on NATS JetStream; an audit writer on another bus connection (as another instance
 * would) stores them in its tamper-evident log (SQLite); the decision id from a denied
 * client's 403 body resolves to its reasons through that log, and a candidate policy is
 * replayed against the recorded decisions.
 *
 * The audit extension is not part of the composition root yet, so the test wires the audit
 * side itself from the audit area's parts (writer, event mapper, redactor).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { request } from 'undici';
import { draftFromEnvelope } from '../../src/audit/map-event.ts';
import { createRedactor } from '../../src/audit/redact.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { createNatsEventBus, type EventBus } from '../../src/bus/index.ts';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { clientAdd } from '../../src/identity/commands/client.ts';
import { policyDiffCommand } from '../../src/policy/commands/diff.ts';
import { findDecisionRecord, policyExplainDecisionCommand } from '../../src/policy/commands/explain-decision.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { insecureAgent, startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';

const skip = await serviceOrSkip('nats');
const run = randomBytes(4).toString('hex');
const stream = `GH_POLICY_${run}`;
const subjectPrefix = `ghpolicy.${run}`;

const POLICY = '@id("a-reads") permit (principal == Gatehouse::Service::"svc-a", action == Gatehouse::Action::"GET", resource == Gatehouse::Route::"items");\n';

describe('a denied decision id resolves to its reasons through the audit log', { skip }, () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let dir: string;
  let store: Store;
  let bus: EventBus;
  let writer: AuditWriter;
  let unsubscribe: () => void;
  const tokens: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-decision-audit-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'items.cedar'), POLICY);
    store = await openStore(`sqlite:${join(dir, 'audit.db')}`);
    await store.migrate();
    writer = AuditWriter.open({ store, instance: 'auditor', spoolDir: join(dir, 'spool'), fsync: false });
    bus = await createNatsEventBus(NATS_URL, { instanceId: 'auditor', stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 });
    const redactor = createRedactor();
    unsubscribe = bus.subscribe(['policy.decision'], (e) => { writer.append(draftFromEnvelope(e, redactor), true); }, { durable: `audit-${run}` });

    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      bus: { url: NATS_URL, stream, subjectPrefix, maxAgeMs: 10 * 60 * 1000 },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'items', path: '/items', upstream: 'app', policy: 'items', authentication: { methods: ['jwt'] } }],
      policy: { dir: join(dir, 'policies') },
    }, { compose: true });
    const idp = identityProviderOf(gw.gateway.extensions)!;
    for (const id of ['svc-a', 'svc-c']) {
      const { secret } = await clientAdd(idp, { clientId: id, kind: 'service', name: id });
      const res = await request(`${gw.url}/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
        body: 'grant_type=client_credentials',
        dispatcher: insecureAgent,
      });
      tokens[id] = ((await res.body.json()) as { access_token: string }).access_token;
    }
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
    unsubscribe?.();
    await writer?.close();
    await bus?.close();
    await store?.close();
    if (!skip) {
      const nc = await connect({ servers: new URL(NATS_URL).host });
      try { await (await jetstreamManager(nc)).streams.delete(stream); } finally { await nc.close(); }
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function recorded(decisionId: string) {
    for (let i = 0; i < 100; i++) {
      await writer.flush();
      const found = await findDecisionRecord(store, decisionId);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`decision ${decisionId} never reached the audit log`);
  }

  test('explain --decision names the default deny, the principal and the recorded inputs', async () => {
    const allowed = await gw.fetch('/items/1', { headers: { authorization: `Bearer ${tokens['svc-a']}` } });
    assert.equal(allowed.status, 200);
    const denied = await gw.fetch('/items/1', { headers: { authorization: `Bearer ${tokens['svc-c']}` } });
    assert.equal(denied.status, 403);
    const decisionId = (JSON.parse(denied.body) as { error: { decisionId: string } }).error.decisionId;
    const { event } = await recorded(decisionId);
    assert.equal(event.allowed, false);
    assert.equal(event.input?.principal.id, 'svc-c');
    // The bearer token never reaches the audit record.
    assert.ok(!JSON.stringify(event).includes(tokens['svc-c']!.slice(0, 20)));

    const r = await policyExplainDecisionCommand({ store, decisionId, policies: join(dir, 'policies') });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, new RegExp(`^DENY — decision ${decisionId}`));
    assert.match(r.output, /Gatehouse::Service::"svc-c" → Gatehouse::Action::"GET" on Gatehouse::Route::"items"/);
    assert.match(r.output, /no policy permits this request \(default deny\)/);
    assert.match(r.output, /route items/);
  });

  test('diff --since replays the recorded decisions under a candidate that lets service C read', async () => {
    const denied = await gw.fetch('/items/2', { headers: { authorization: `Bearer ${tokens['svc-c']}` } });
    const decisionId = (JSON.parse(denied.body) as { error: { decisionId: string } }).error.decisionId;
    await recorded(decisionId);
    const candidate = join(dir, 'candidate');
    await mkdir(candidate, { recursive: true });
    await writeFile(join(candidate, 'items.cedar'), `${POLICY}@id("c-reads") permit (principal == Gatehouse::Service::"svc-c", action == Gatehouse::Action::"GET", resource == Gatehouse::Route::"items");\n`);
    const r = await policyDiffCommand({ current: join(dir, 'policies'), candidate, audit: { store, since: new Date(Date.now() - 600_000) } });
    assert.equal(r.exitCode, 1, r.output);
    assert.match(r.output, new RegExp(`${decisionId}: Gatehouse::Service::"svc-c" .* deny → allow \\(permit: c-reads\\)`));
    assert.doesNotMatch(r.output, /svc-a.*→/, 'service A\'s decision does not change');
  });
});
