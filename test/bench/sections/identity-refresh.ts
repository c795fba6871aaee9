/**
 * Load generator for refresh grants, run by the identity section as a child process on the
 * load CPU: `node identity-refresh.ts <json options>`. Each of `chains` workers owns one
 * refresh-token chain and redeems it in a loop, each grant on a new TLS connection
 * (`agent: false`, no session resumption), taking the rotated token from each answer.
 *
 * Why not wrk: refresh tokens are single use, so a request must carry the token of the
 * previous answer of the same chain. wrk's Lua hooks cannot tie an answer to the request
 * it answers, and tokens drifted between chains in practice (starved connections).
 * Prints one line `GATEHOUSE_IDP_REFRESH_JSON {...}`.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { z } from 'zod';

const optionsSchema = z.object({
  /** https://127.0.0.1:<port> */
  url: z.url(),
  caFile: z.string(),
  /** Base64 of `client_id:client_secret`. */
  basicAuth: z.string(),
  tokensFile: z.string(),
  warmupS: z.number().min(0),
  durationS: z.number().positive(),
}).strict();

export type RefreshLoadOptions = z.infer<typeof optionsSchema>;

export interface RefreshLoadResult {
  grants: number;
  failures: number;
  /** Chains that ended on a failed grant (each failure ends its chain). */
  brokenChains: number;
  chains: number;
  durationS: number;
  grantsPerSecond: number;
  latencyMs: { p50: number; p99: number } | null;
  firstFailure?: string;
}

function grant(url: URL, ca: string, auth: string, token: string): Promise<string> {
  const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST', agent: false, ca, servername: 'localhost', timeout: 10_000,
      headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), connection: 'close' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`${res.statusCode} ${text.slice(0, 200)}`)); return; }
        const next = (JSON.parse(text) as { refresh_token?: unknown }).refresh_token;
        if (typeof next === 'string') resolve(next); else reject(new Error('answer without refresh_token'));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const options = optionsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  const ca = readFileSync(options.caFile, 'utf8');
  const url = new URL('/oidc/token', options.url);
  const tokens = readFileSync(options.tokensFile, 'utf8').split('\n').filter(Boolean);
  const start = performance.now();
  const warmEnd = start + options.warmupS * 1000;
  const end = warmEnd + options.durationS * 1000;
  const latencies: number[] = [];
  let failures = 0;
  let broken = 0;
  let firstFailure: string | undefined;
  await Promise.all(tokens.map(async (first) => {
    let token = first;
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        token = await grant(url, ca, options.basicAuth, token);
        if (t0 >= warmEnd && performance.now() <= end) latencies.push(performance.now() - t0);
      } catch (error) {
        failures++;
        broken++;
        firstFailure ??= error instanceof Error ? error.message : String(error);
        return;
      }
    }
  }));
  latencies.sort((a, b) => a - b);
  const pick = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! * 10) / 10;
  const result: RefreshLoadResult = {
    grants: latencies.length, failures, brokenChains: broken, chains: tokens.length, durationS: options.durationS,
    grantsPerSecond: Math.round(latencies.length / options.durationS),
    latencyMs: latencies.length ? { p50: pick(0.5), p99: pick(0.99) } : null,
    ...(firstFailure ? { firstFailure } : {}),
  };
  process.stdout.write(`GATEHOUSE_IDP_REFRESH_JSON ${JSON.stringify(result)}\n`);
}

if (import.meta.main) await main();
