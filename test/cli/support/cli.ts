/**
 * Runs the real `gatehouse` command as a user would: a child process of the pinned Node
 * running src/cli/main.ts, with its own working directory, stdin and environment.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createScratchDatabase } from '../../support/scratch-postgres.ts';

const MAIN = join(import.meta.dirname, '..', '..', '..', 'src', 'cli', 'main.ts');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Ends the command with SIGTERM after this long, SIGKILL 15 s later (a `start` that should
   * have refused to start but serves instead); it then resolves with whatever it printed.
   */
  timeoutMs?: number;
  /** Ends the command with SIGTERM once its stdout matches (a `start` that is listening). */
  stopWhen?: RegExp;
}

export function gatehouse(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, NODE_ENV: 'development', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (options.stopWhen?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    let timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      child.kill('SIGTERM');
      timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}

/** Asserting helper output: the whole result, for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** A store backend for a suite: the `store` part of a configuration and how to clean up. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  dir: string;
  /** Writes `gatehouse.yaml` into `dir` with this store (and the given extra keys); returns its path. */
  writeConfig(extra?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/**
 * A temporary directory (data dir and config file) and a store: SQLite in that directory,
 * or a scratch PostgreSQL database (test/support/scratch-postgres.ts), dropped at close.
 */
export async function createBackend(name: 'sqlite' | 'postgres'): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), `gh-cli-${name}-`));
  const database = name === 'postgres' ? await createScratchDatabase('gh_cli') : undefined;
  const storeUrl = database?.url;
  return {
    name, dir,
    async writeConfig(extra = {}) {
      const file = join(dir, 'gatehouse.yaml');
      await writeFile(file, stringify({ dataDir: join(dir, 'data'), ...(storeUrl ? { store: { url: storeUrl } } : {}), ...extra }));
      return file;
    },
    async close() {
      try { await database?.drop(); } finally { await rm(dir, { recursive: true, force: true }); }
    },
  };
}
