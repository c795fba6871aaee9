/**
 * The supervisor's child processes: each started with the project's own Node.js, its logs
 * appended to a file, its stdin a pipe from the supervisor. A child watches that pipe and
 * stops itself when it closes — so even a supervisor killed with SIGKILL leaves no orphans.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';

export interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | null>;
}

export interface StartChildOptions {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** True for the log line that says the child is ready. */
  ready: (line: string) => boolean;
  timeoutMs: number;
  onExit: (child: Child, code: number | null, signal: NodeJS.Signals | null) => void;
}

export function startChild(options: StartChildOptions): Promise<Child> {
  // Output goes straight to the log file, not through this process: a child must never
  // block or fail on writes to a pipe whose reader (the supervisor) is gone.
  const fd = openSync(options.logFile, 'a', 0o600);
  const from = fstatSync(fd).size;
  const proc = spawn(process.execPath, options.args, { env: { ...options.env, SECURE_MAIL_SUPERVISED: '1' }, stdio: ['pipe', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = { name: options.name, process: proc, exited };
  return new Promise((resolve, reject) => {
    let isReady = false;
    const finish = (err?: Error) => {
      clearInterval(poll);
      clearTimeout(timer);
      if (err) reject(err); else { isReady = true; resolve(child); }
    };
    const poll = setInterval(() => {
      const text = readFileSync(options.logFile, 'utf8').slice(from);
      if (text.split('\n').some((line) => options.ready(line))) finish();
    }, 100);
    const timer = setTimeout(() => { proc.kill('SIGKILL'); finish(new Error(`${options.name} was not ready within ${options.timeoutMs} ms (log: ${options.logFile})`)); }, options.timeoutMs);
    proc.once('exit', (code, signal) => {
      // The child's last line says why (a port in use, a bad file): the person at the terminal
      // should not have to open the log to learn it.
      if (!isReady) {
        const last = readFileSync(options.logFile, 'utf8').slice(from).trimEnd().split('\n').at(-1)?.trim();
        const why = last ? `: ${reasonOf(last).slice(0, 500)}` : '';
        finish(new Error(`${options.name} exited (${signal ?? code}) before it was ready${why} (log: ${options.logFile})`));
      } else options.onExit(child, code, signal);
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** A JSON log line (the services log with pino) reads best as its error's message. */
function reasonOf(line: string): string {
  try {
    const entry = JSON.parse(line) as { err?: { message?: unknown }; msg?: unknown };
    if (typeof entry.err?.message === 'string') return entry.err.message;
    if (typeof entry.msg === 'string') return entry.msg;
  } catch { /* a plain line */ }
  return line;
}
