/**
 * Asks a worker thread to stop and waits for it to exit, terminating it after `graceMs`.
 *
 * The worker is referenced again while it stops: unreferenced, a process with nothing else to do
 * exited before the worker's 'exit' event, so the stop never settled (a script's last `await`
 * ended it with exit code 13 and nothing after it ran).
 */
import type { Worker } from 'node:worker_threads';

export function stopWorker(worker: Worker, message: unknown, graceMs: number): Promise<void> {
  worker.ref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const grace = setTimeout(() => { void worker.terminate(); }, graceMs);
  void exited.then(() => clearTimeout(grace));
  worker.postMessage(message);
  return exited;
}
