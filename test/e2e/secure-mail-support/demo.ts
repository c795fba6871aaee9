/**
 * Runs the whole secure mail demo exactly as `npm start` does — the supervisor process
 * (examples/secure-mail/start.ts) with Gatehouse and every service as child processes — on
 * ephemeral ports and a temporary data directory, and reads its one-line JSON ready report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface RunningDemo {
  url: string;
  opsUrl: string;
  mailbox: string;
  dataDir: string;
  passwords: Record<string, string>;
  pids: Record<string, number>;
  supervisor: ChildProcess;
  /** Mails the demo SMTP server received so far. */
  mails(): Promise<{ to: string[]; raw: string }[]>;
  /** SIGTERM to the supervisor; resolves with its exit code. */
  stop(): Promise<number | null>;
  /** Stops (if running) and removes the data directory. */
  close(): Promise<void>;
}

/**
 * Ephemeral ports are picked free and bound a moment later by another process: a suite running in
 * parallel can take one in between (EADDRINUSE, reported in the `ready: false` line). Such a start
 * is tried again, on fresh ports and, unless one was given, a fresh data directory.
 */
export async function startDemo(options: { minLifetimeSeconds?: number; dataDir?: string } = {}): Promise<RunningDemo> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDemoOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startDemoOnce(options: { minLifetimeSeconds?: number; dataDir?: string }): Promise<RunningDemo> {
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'secure-mail-demo-'));
  const supervisor = spawn(process.execPath, [
    'examples/secure-mail/start.ts', '--data-dir', dataDir, '--ephemeral', '--json', '--min-lifetime', String(options.minLifetimeSeconds ?? 60),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  supervisor.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => { supervisor.kill('SIGTERM'); reject(new Error(`demo not ready within 150 s\n${stderr.slice(-2000)}`)); }, 150_000);
    createInterface({ input: supervisor.stdout! }).on('line', (line) => {
      try {
        const m = JSON.parse(line) as Record<string, unknown>;
        if (m.ready === true) { clearTimeout(timer); resolve(m); }
        // With --json the supervisor reports a failed start on stdout (its stderr has only warnings).
        if (m.ready === false) { clearTimeout(timer); reject(new Error(`demo could not start: ${String(m.error)}\n${stderr.slice(-2000)}`)); }
      } catch { /* not the ready line */ }
    });
    supervisor.once('exit', (code) => { clearTimeout(timer); reject(new Error(`supervisor exited (${code}) before it was ready\n${stderr.slice(-2000)}`)); });
  });
  const demo: RunningDemo = {
    url: String(ready.url), opsUrl: String(ready.opsUrl), mailbox: String(ready.mailbox), dataDir,
    passwords: ready.passwords as Record<string, string>, pids: ready.pids as Record<string, number>, supervisor,
    async mails() {
      const text = await readFile(demo.mailbox, 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { to: string[]; raw: string });
    },
    async stop() {
      if (supervisor.exitCode === null && supervisor.signalCode === null) supervisor.kill('SIGTERM');
      return exited;
    },
    async close() {
      await demo.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return demo;
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}
