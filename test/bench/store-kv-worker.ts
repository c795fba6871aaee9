/**
 * Measures the kv repository (the OIDC provider's storage) on one store URL.
 * Run by sections/store.ts in a pinned child; usable alone:
 *
 *   npx node test/bench/store-kv-worker.ts sqlite:/tmp/bench.db 3 16
 *
 * Arguments: store URL, seconds per operation, concurrency. Prints one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { createKvRepo, openStore, type KvRepo } from '../../src/store/index.ts';

const [url = 'sqlite::memory:', secondsArg = '3', concurrencyArg = '16'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const concurrency = Number(concurrencyArg);

interface Figure { op: string; concurrency: number; ops: number; opsPerSec: number; p50Ms: number; p99Ms: number }

// Roughly what oidc-provider stores for an authorization code.
const payload = {
  accountId: 'user-123', acr: 'urn:gatehouse:mfa', amr: ['pwd', 'otp'], authTime: 1_800_000_000,
  claims: { id_token: { email: null } }, clientId: 'secure-mail-web', codeChallenge: randomBytes(32).toString('base64url'),
  codeChallengeMethod: 'S256', grantId: 'grant', nonce: randomBytes(16).toString('base64url'),
  redirectUri: 'https://mail.example/callback', scope: 'openid email profile', sessionUid: 'session-uid',
};

async function measure(op: string, run: (kv: KvRepo, i: number) => Promise<unknown>, kv: KvRepo): Promise<Figure> {
  const latencies: number[] = [];
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const t = performance.now();
      await run(kv, i);
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { op, concurrency, ops: latencies.length, opsPerSec: latencies.length / elapsed, p50Ms: at(0.5), p99Ms: at(0.99) };
}

const store = await openStore(url, { poolMax: Math.min(concurrency, 10) });
try {
  await store.migrate();
  const kv = createKvRepo(store.db);
  const ns = `bench-${randomBytes(4).toString('hex')}`;
  const figures: Figure[] = [];
  figures.push(await measure('upsert', (r, i) => r.upsert(ns, `code-${i}`, { ...payload, grantId: `g-${i % 1000}` }, 600), kv));
  const written = figures[0]!.ops;
  figures.push(await measure('find (hit)', (r, i) => r.find(ns, `code-${i % written}`), kv));
  figures.push(await measure('consume', (r, i) => r.consume(ns, `code-${i % written}`), kv));
  figures.push(await measure('code flow (upsert+find+consume+destroy)', async (r, i) => {
    const id = `flow-${i}`;
    await r.upsert(ns, id, payload, 60);
    await r.find(ns, id);
    await r.consume(ns, id);
    await r.destroy(ns, id);
  }, kv));
  process.stdout.write(JSON.stringify({ dialect: store.dialect, seconds, concurrency, figures }));
} finally {
  await store.close();
}
