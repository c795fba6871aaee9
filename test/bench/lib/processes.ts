/**
 * Every process the harness starts goes through here, so that all of them are killed when
 * the harness ends: normally, on an error, or on SIGINT/SIGTERM.
 *
 * Each child is started `detached`, i.e. as the leader of its own process group, and is
 * killed through the group: nginx's workers and anything a child forks die with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, writeFileSync } from 'node:fs';

/** How to start one process. */
export interface SpawnOptions {
  /** Pin the process (and its threads and children) to this CPU with taskset. */
  cpu?: number | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr go to this file; without it they are piped and collected. */
  logFile?: string;
}

/** A running child process. */
export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Collected stdout/stderr when no log file was given. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
}

/** How every process of the run is started. */
export interface RegistryOptions {
  /** Path of taskset; without it nothing is pinned. */
  taskset: string | undefined;
  /** Niceness of every process started (negative: higher priority; needs root). 0: unchanged. */
  nice: number;
}

/** Starts, tracks and stops the run's processes; see the file comment. */
export class ProcessRegistry {
  readonly #running = new Set<Managed>();
  readonly #options: RegistryOptions;

  constructor(options: RegistryOptions) {
    this.#options = options;
  }

  /** Starts `command` with `args`, tracked for cleanup. */
  start(name: string, command: string, args: string[], options: SpawnOptions = {}): Managed {
    // nice and taskset both exec the command: the pid is the command's, its threads and
    // children inherit priority and CPU.
    let argv = [command, ...args];
    if (options.cpu !== undefined && this.#options.taskset !== undefined) argv = [this.#options.taskset, '-c', String(options.cpu), ...argv];
    if (this.#options.nice !== 0) argv = ['nice', '-n', String(this.#options.nice), ...argv];
    const [file, ...rest] = argv as [string, ...string[]];
    const fd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
    const child = spawn(file, rest, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
    });
    if (fd !== undefined) closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    if (this.#options.nice !== 0) setAutogroupNice(child.pid, this.#options.nice);
    let collected = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { collected += chunk; });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { collected += chunk; });
    const exited = new Promise<number | string>((resolve) => {
      child.once('error', (error) => { collected += `\n${error.message}`; resolve('spawn-error'); });
      child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    });
    const managed: Managed = { name, child, pid: child.pid, output: () => collected, exited };
    this.#running.add(managed);
    void exited.then(() => this.#running.delete(managed));
    return managed;
  }

  /** Runs a command to completion and returns its exit code and output. */
  async run(name: string, command: string, args: string[], options: SpawnOptions = {}): Promise<{ code: number | string; output: string }> {
    const managed = this.start(name, command, args, options);
    const code = await managed.exited;
    return { code, output: managed.output() };
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. */
  async stop(managed: Managed, graceMs = 3000): Promise<void> {
    if (!this.#running.has(managed)) return;
    signalGroup(managed.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(managed.pid, 'SIGKILL'), graceMs);
    await managed.exited;
    clearTimeout(timer);
    // The leader may be gone while a member of its group is not (e.g. an nginx worker).
    signalGroup(managed.pid, 'SIGKILL');
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running].map((managed) => this.stop(managed)));
  }

  /** Synchronous last resort for process 'exit' and signal handlers. */
  killAllNow(): void {
    for (const managed of this.#running) signalGroup(managed.pid, 'SIGKILL');
    this.#running.clear();
  }
}

/**
 * A detached child is a new session, and with the kernel's autogroup scheduling
 * (sched_autogroup_enabled) each session is a scheduling group of its own, competing with
 * other sessions as a whole: a process's niceness then only counts inside its session.
 * The session's own niceness is set through /proc/<pid>/autogroup.
 */
function setAutogroupNice(pid: number, nice: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch {
    // No autogroup support, or not allowed: the plain niceness still applies.
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone: nothing left to kill.
  }
}

/**
 * Kills every child when the harness ends, whatever the reason. Returns a function that
 * removes the handlers again (used by tests).
 */
export function killChildrenOnExit(registry: ProcessRegistry, onSignal: (signal: string) => void): () => void {
  const onExit = (): void => registry.killAllNow();
  const signalHandler = (signal: NodeJS.Signals): void => {
    registry.killAllNow();
    onSignal(signal);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', onExit);
  process.on('SIGINT', signalHandler);
  process.on('SIGTERM', signalHandler);
  process.on('SIGHUP', signalHandler);
  return () => {
    process.off('exit', onExit);
    process.off('SIGINT', signalHandler);
    process.off('SIGTERM', signalHandler);
    process.off('SIGHUP', signalHandler);
  };
}
