/**
 * A throwaway redis-server of its own (Debian's binary), for states the shared Redis must not
 * be put in: a read-only replica (what a primary's address serves after a failover), a
 * cluster node. Its port is taken from the kernel; it keeps nothing on disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = process.env.GATEHOUSE_TEST_REDIS_SERVER ?? '/usr/bin/redis-server';

/** A reason to skip, or false when the binary is there. */
export async function spareRedisOrSkip(): Promise<false | string> {
  try {
    await access(REDIS_SERVER);
    return false;
  } catch {
    return `${REDIS_SERVER} not found (set GATEHOUSE_TEST_REDIS_SERVER)`;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = address && typeof address === 'object' ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export interface SpareRedis {
  url: string;
  stop(): Promise<void>;
}

/** Starts redis-server with `args` added to a minimal, diskless configuration. */
export async function startSpareRedis(args: string[]): Promise<SpareRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = performance.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      child.kill();
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server ${args.join(' ')} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill();
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
