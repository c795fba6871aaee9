/**
 * Audit bench worker (one process, pinned by the harness): durable append throughput with
 * group commit, spool-only throughput while the store is unreachable and replay once it is
 * back, and verification time. Prints one JSON object.
 *
 * Durable appends are measured twice: with the batches committed on the process's main thread,
 * and on its audit commit thread, moved to `load cpu` when given (the process stays pinned
 * where the harness put it). Each twice again: events appended one by one (`append`, the path of
 * events delivered by the bus: one spool write(2) each), and access records built from a finished
 * request's context by the gateway's own `accessRecord` and appended as the gateway appends them
 * (`appendAccess`: one grouped spool write a turn, the turn's responses held until it is done).
 *
 *   node audit-worker.ts <store url> <events to append> <records to verify> <scratch dir> [load cpu]
 */
import { join } from 'node:path';
import { randomUUIDv7 } from 'node:crypto';
import { openStore, type Store } from '../../../src/store/index.ts';
import { AuditWriter } from '../../../src/audit/writer.ts';
import { verifyAudit } from '../../../src/audit/verify.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../../src/audit/signing-key.ts';
import type { AuditDraft } from '../../../src/audit/record.ts';
import { accessRecord } from '../../../src/audit/access-event.ts';
import { createRedactor } from '../../../src/audit/redact.ts';
import type { RequestContext } from '../../../src/gateway/context.ts';
import { pinNamedThreads } from '../lib/threads.ts';

/** The audit commit thread's name (src/audit/commit-thread.ts; a literal, so that an older tree without it still runs). */
const COMMIT_THREAD = 'audit-commit';

const [url, appendArg, verifyArg, scratch, loadCpuArg] = process.argv.slice(2);
if (!url || !appendArg || !verifyArg || !scratch) throw new Error('usage: audit-worker.ts URL APPEND VERIFY DIR');
const appendN = Number(appendArg);
const verifyN = Number(verifyArg);
const key = await signingKeyFromJwk(await generateSigningJwk());

function draft(i: number): AuditDraft {
  return {
    time: Date.now(), instance: 'bench', event: 'gateway.request', eventId: randomUUIDv7(), requestId: `r-${i}`, traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    actor: `user-${i % 1000}`, actorKind: 'user', action: 'gateway.request', resource: `route:inbox GET /inbox/${i % 100}`, outcome: 'success',
    decisionId: null, reasons: null, clientAddress: '203.0.113.9',
    details: `{"bytesIn":0,"bytesOut":512,"clientAddress":"203.0.113.9","durationMs":1.25,"method":"GET","path":"/inbox/${i % 100}","requestId":"r-${i}","routeId":"inbox","stage":"forward","status":200,"subject":"user-${i % 1000}"}`,
  };
}

const redactor = createRedactor();

/** A finished request's context as the access record reads it (test/audit/access-record.test.ts builds the same). */
function requestContext(i: number): RequestContext {
  return {
    requestId: randomUUIDv7(), trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }, method: 'GET', path: `/inbox/${i % 100}`,
    clientAddress: '203.0.113.9', stage: 'forward', bytesIn: 0, bytesOut: 512, route: { id: 'inbox' },
    identity: { subject: `user-${i % 1000}`, kind: 'user', method: 'session' }, error: undefined, upstreamStatus: 200, decisionId: undefined,
  } as unknown as RequestContext;
}

/** A response held for its turn's grouped spool write: counts its release. */
class Held {
  static released = 0;
  cork(): void {}
  uncork(): void { Held.released += 1; }
}

type Path = 'append' | 'access';

/** Appends n events as a busy gateway would (bursts, yielding to the event loop) and waits until all are committed. */
async function appendAll(writer: AuditWriter, n: number, offset = 0, path: Path = 'append'): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    if (path === 'access') writer.appendAccess(accessRecord(requestContext(offset + i), 200, 1.25, 'bench', redactor), new Held());
    else writer.append(draft(offset + i));
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  await writer.flush();
  return performance.now() - started;
}

async function measure(store: Store, chain: string, commitThread = false, path: Path = 'append') {
  const writer = AuditWriter.open({ store, chain, instance: 'bench', spoolDir: join(scratch!, `spool-${chain}`), signingKey: key, fsync: true, batchMaxEvents: 1000, batchMaxDelayMs: 5, commitThread });
  if (commitThread) {
    // The thread starts with the first batch: start it, then give it the other core.
    writer.append(draft(-1));
    await writer.flush();
    if (loadCpuArg !== undefined) pinNamedThreads(process.pid, new Map([[COMMIT_THREAD, Number(loadCpuArg)]]));
  }
  // Whole-process CPU (main thread and the thread pool's fdatasyncs): on the one pinned core this, not wall time, is what an audited request pays.
  // Measured through close: the actor index's last bulk run (src/audit/actor-index.ts) is part of the appends' cost.
  const cpu = process.cpuUsage();
  const started = performance.now();
  const released = Held.released;
  await appendAll(writer, appendN, 0, path);
  if (path === 'access' && Held.released - released !== appendN) throw new Error(`${Held.released - released} of ${appendN} held responses released`);
  const stats = writer.stats();
  await writer.close();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { events: appendN, ms, eventsPerSec: appendN / (ms / 1000), batches: stats.batches, cpuUsPerEvent: (used.user + used.system) / appendN };
}

const store = await openStore(url, { poolMax: 4 });
await store.migrate();
const result: Record<string, unknown> = { url: url.startsWith('sqlite') ? 'sqlite' : 'postgres' };
result.append = await measure(store, 'append');
result.appendThread = await measure(store, 'append-thread', true);
result.access = await measure(store, 'access', false, 'access');
result.accessThread = await measure(store, 'access-thread', true, 'access');

// Store unreachable: the same appends go to the spool only; then a writer on the real store replays them.
const downDir = join(scratch, 'spool-down');
const down = await openStore('postgres://nobody@127.0.0.1:9/none', { connectTimeoutMs: 200 });
{
  const writer = AuditWriter.open({ store: down, chain: 'down', instance: 'bench', spoolDir: downDir, fsync: true });
  const started = performance.now();
  for (let i = 0; i < appendN; i++) {
    writer.append(draft(i));
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const spoolMs = performance.now() - started;
  await writer.close(100);
  await down.close();
  const replayStarted = performance.now();
  const replay = AuditWriter.open({ store, chain: 'down', instance: 'bench', spoolDir: downDir, fsync: true });
  await replay.flush();
  const replayMs = performance.now() - replayStarted;
  const s = replay.stats();
  await replay.close();
  result.storeDown = { events: appendN, spoolEventsPerSec: appendN / (spoolMs / 1000), replayEventsPerSec: s.committed / (replayMs / 1000), replayed: s.committed };
}

// Verification of a chain of verifyN records (written with large batches, no fsync: only reading is measured).
{
  const writer = AuditWriter.open({ store, chain: 'verify', instance: 'bench', spoolDir: join(scratch, 'spool-verify'), signingKey: key, fsync: false, batchMaxEvents: 5000, batchMaxDelayMs: 0, checkpointEveryRecords: 100_000 });
  await appendAll(writer, verifyN);
  await writer.close();
  const report = await verifyAudit(store, { trustedKeys: [key.publicJwk], chain: 'verify' });
  if (!report.ok) throw new Error(`verify failed: ${JSON.stringify(report.problems)}`);
  result.verify = { records: report.records, ms: report.durationMs, recordsPerSec: report.records / (report.durationMs / 1000) };
}
await store.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
