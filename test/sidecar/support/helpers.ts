/** Plain local services, a log capture and a sidecar child process for the sidecar suites. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

/** A plain HTTP service on 127.0.0.1:0 that answers with what it saw. */
export async function plainService(name: string): Promise<{ server: Server; port: number; seen: Array<{ url: string; peer: string | undefined; headers: IncomingMessage['headers'] }>; connections: () => number; close: () => Promise<void> }> {
  const seen: Array<{ url: string; peer: string | undefined; headers: IncomingMessage['headers'] }> = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const peer = req.headers['x-gatehouse-peer'];
    seen.push({ url: req.url ?? '', peer: Array.isArray(peer) ? peer.join(',') : peer, headers: req.headers });
    res.setHeader('content-type', 'text/plain');
    res.end(`${name} ok for ${peer ?? '(no header)'}`);
  });
  server.on('connection', () => { connections++; });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server, seen, connections: () => connections,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A pino logger keeping lines in memory (to assert what is logged — and what never is). */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

export interface SidecarProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  /** Resolves with the first log line matching `msg` (rejects when the process exits first). */
  waitFor(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>;
}

const MAIN = join(import.meta.dirname, '..', '..', '..', 'src', 'cli', 'main.ts');

/** Runs `gatehouse sidecar ARGS` with the project's pinned node (the one running the tests). */
export function spawnSidecar(args: string[]): SidecarProcess {
  const child = spawn(process.execPath, [MAIN, 'sidecar', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ msg: string; resolve: (l: Record<string, unknown>) => void }> = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try { parsed = JSON.parse(line) as Record<string, unknown>; } catch { return; }
    lines.push(parsed);
    for (const w of [...waiters]) if (parsed.msg === w.msg) { waiters.splice(waiters.indexOf(w), 1); w.resolve(parsed); }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child, lines, exited,
    waitFor(msg, timeoutMs = 30_000) {
      const found = lines.find((l) => l.msg === msg);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${msg}" within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ msg, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`sidecar exited (${code}) before "${msg}"; stderr: ${stderr}`)); });
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
