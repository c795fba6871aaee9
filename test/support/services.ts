/**
 * Suites that need PostgreSQL, Redis, NATS or Chromium call `serviceOrSkip`.
 * On a developer machine without the service they skip with a printed reason;
 * with GATEHOUSE_REQUIRE_SERVICES=1 (set by .ci/run) a missing service is a failure.
 */
import { connect } from 'node:net';
import { access } from 'node:fs/promises';

export const POSTGRES_URL = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.GATEHOUSE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
export const CHROMIUM_PATH = process.env.GATEHOUSE_TEST_CHROMIUM ?? '/usr/bin/chromium';

export type ServiceName = 'postgres' | 'redis' | 'nats' | 'chromium';

function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A loaded machine can be slow to accept; a service counts as absent only after 10 s of tries. */
async function reachable(host: string, port: number): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await tcpReachable(host, port, 2000)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const cache = new Map<ServiceName, Promise<boolean>>();

function available(name: ServiceName): Promise<boolean> {
  let result = cache.get(name);
  if (!result) { result = probe(name); cache.set(name, result); }
  return result;
}

async function probe(name: ServiceName): Promise<boolean> {
  switch (name) {
    case 'postgres': { const u = new URL(POSTGRES_URL); return reachable(u.hostname, Number(u.port || 5432)); }
    case 'redis': { const u = new URL(REDIS_URL); return reachable(u.hostname, Number(u.port || 6379)); }
    case 'nats': { const u = new URL(NATS_URL); return reachable(u.hostname, Number(u.port || 4222)); }
    case 'chromium': return access(CHROMIUM_PATH).then(() => true, () => false);
  }
}

/**
 * Returns `false` when the suite may run, or a skip reason string (for `{ skip }`).
 * Throws when GATEHOUSE_REQUIRE_SERVICES=1 and the service is missing.
 *
 * @example
 *   const skip = await serviceOrSkip('postgres');
 *   describe('store on PostgreSQL', { skip }, () => { ... });
 */
export async function serviceOrSkip(name: ServiceName): Promise<false | string> {
  if (await available(name)) return false;
  const reason = `${name} is not reachable on this machine; suite skipped (set GATEHOUSE_REQUIRE_SERVICES=1 to make this a failure)`;
  if (process.env.GATEHOUSE_REQUIRE_SERVICES === '1') {
    throw new Error(`GATEHOUSE_REQUIRE_SERVICES=1 but ${name} is not reachable`);
  }
  console.log(`# SKIP: ${reason}`);
  return reason;
}
