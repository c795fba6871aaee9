/**
 * Load generator for password logins, run by the identity section as a child process on
 * the load CPU: `node identity-logins.ts <json options>`. Each login is the whole browser
 * flow a user goes through — authorization request, sign-in page, password POST (one
 * Argon2id verification at the provider), redirects back to the client, and the client's
 * code exchange (openid-client, PKCE) — with a fresh cookie jar each time. Prints one line
 * `GATEHOUSE_IDP_LOGINS_JSON {...}`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loginAndExchange, rpConfig, type RpTarget } from '../../identity/support/flows.ts';
import { rewriteFetch } from '../../identity/support/rewrite-fetch.ts';

const optionsSchema = z.object({
  origin: z.url(),
  /** Where to connect instead of the origin's host (the origin may name `localhost`). */
  connectOrigin: z.url(),
  caFile: z.string(),
  clientId: z.string(),
  clientSecret: z.string(),
  username: z.string(),
  password: z.string(),
  concurrency: z.number().int().min(1).max(64),
  warmupS: z.number().min(0),
  durationS: z.number().positive(),
}).strict();

export type LoginLoadOptions = z.infer<typeof optionsSchema>;

export interface LoginLoadResult {
  logins: number;
  failures: number;
  durationS: number;
  loginsPerSecond: number;
  latencyMs: { p50: number; p99: number } | null;
  firstFailure?: string;
}

/** A fetch that trusts `ca` and sends requests for `origin` to `connectOrigin`. */
export function redirectingFetch(origin: string, connectOrigin: string, ca: string): typeof fetch {
  return rewriteFetch({ origin, connectOrigin, ca });
}

async function main(): Promise<void> {
  const options = optionsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  const target: RpTarget = { origin: options.origin, fetch: redirectingFetch(options.origin, options.connectOrigin, readFileSync(options.caFile, 'utf8')) };
  const config = await rpConfig(target, options.clientId, options.clientSecret);
  const start = performance.now();
  const warmEnd = start + options.warmupS * 1000;
  const end = warmEnd + options.durationS * 1000;
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const { tokens } = await loginAndExchange(target, config, options.username, options.password, 'openid');
        if (!tokens.access_token) throw new Error('no access token');
        if (t0 >= warmEnd && performance.now() <= end) latencies.push(performance.now() - t0);
      } catch (error) {
        if (t0 >= warmEnd) failures++;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  latencies.sort((a, b) => a - b);
  const pick = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! * 10) / 10;
  const result: LoginLoadResult = {
    logins: latencies.length, failures, durationS: options.durationS,
    loginsPerSecond: Math.round((latencies.length / options.durationS) * 10) / 10,
    latencyMs: latencies.length ? { p50: pick(0.5), p99: pick(0.99) } : null,
    ...(firstFailure ? { firstFailure } : {}),
  };
  process.stdout.write(`GATEHOUSE_IDP_LOGINS_JSON ${JSON.stringify(result)}\n`);
}

if (import.meta.main) await main();
