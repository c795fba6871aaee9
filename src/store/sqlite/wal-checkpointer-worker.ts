/**
 * Worker thread of {@link WalCheckpointer}: checkpoints the WAL of one database file through
 * its own connection, so the fsyncs of a checkpoint never run inside the main thread's COMMIT.
 *
 * Messages in: 'checkpoint' (the main connection wrote; checkpoint no sooner than
 * `minIntervalMs` after the last one), 'stop'. Messages out: 'ready' once the connection is
 * open, then one {@link CheckpointReport} per checkpoint.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointReport, CheckpointerWorkerData } from './wal-checkpointer.ts';

const port = parentPort;
if (!port) throw new Error('wal-checkpointer-worker runs in a worker thread');
const data = workerData as CheckpointerWorkerData;

// The busy timeout only matters for TRUNCATE, which waits for the writer; PASSIVE never waits.
const db = new DatabaseSync(data.file, { timeout: data.busyTimeoutMs, allowExtension: false });
db.enableDefensive(true);
db.exec(`pragma journal_size_limit = ${data.journalSizeLimit}`);
const passive = db.prepare('pragma wal_checkpoint(passive)');
const truncate = db.prepare('pragma wal_checkpoint(truncate)');

let timer: NodeJS.Timeout | undefined;
let last = 0;

function run(statement: typeof passive): CheckpointReport {
  const row = statement.get() as { busy: number; log: number; checkpointed: number };
  return { type: 'checkpointed', busy: row.busy, log: row.log, checkpointed: row.checkpointed };
}

function checkpoint(): void {
  timer = undefined;
  let report = run(passive);
  // A WAL this long means PASSIVE keeps losing the race with the writer or a reader: reset it
  // (this waits for the writer and briefly blocks the next one) so the file stays bounded.
  if (report.log >= data.truncateFrames) report = { ...run(truncate), truncated: true };
  last = performance.now();
  port!.postMessage(report);
}

port.on('message', (message: 'checkpoint' | 'stop') => {
  if (message === 'stop') {
    clearTimeout(timer);
    db.close();
    port.close();
    return;
  }
  if (timer) return;
  timer = setTimeout(checkpoint, Math.max(0, last + data.minIntervalMs - performance.now()));
});
port.postMessage('ready');
