/**
 * Test harness: a real store (SQLite file or a scratch PostgreSQL database), the identity
 * provider mounted on a real HTTPS server with a self-signed certificate made by the real
 * `openssl`, an HTTP client with a cookie jar that trusts that certificate, and a recorder
 * of published events.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { configSchema, type ConfigInput } from '../../../src/core/config/schema.ts';
import { openStore } from '../../../src/store/open-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { createIdentityProvider, type IdentityProvider } from '../../../src/identity/index.ts';
import { createScratchDatabase } from '../../support/scratch-postgres.ts';

export interface RecordedEvent { name: string; payload: any }

export interface Harness {
  origin: string;
  idp: IdentityProvider;
  store: Store;
  events: RecordedEvent[];
  fetch: typeof fetch;
  dir: string;
  close(): Promise<void>;
}

export type Backend = 'sqlite' | 'postgres';

let certCache: { key: string; cert: string } | undefined;
export function selfSignedCert(): { key: string; cert: string } {
  if (certCache) return certCache;
  const dir = mkdtempSync(join(tmpdir(), 'gh-idp-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  certCache = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  rmSync(dir, { recursive: true, force: true });
  return certCache;
}

/** A fetch that trusts the test certificate (for openid-client and the browser stand-in). */
export function trustingFetch(): typeof fetch {
  const dispatcher = new Agent({ connect: { ca: selfSignedCert().cert } });
  return ((input: any, init: any = {}) => undiciFetch(input, { ...init, dispatcher })) as unknown as typeof fetch;
}

async function createStore(backend: Backend, dir: string): Promise<{ store: Store; drop: () => Promise<void> }> {
  if (backend === 'sqlite') {
    const store = await openStore(`sqlite:${join(dir, 'gatehouse.db')}`);
    return { store, drop: async () => {} };
  }
  const database = await createScratchDatabase('gh_idp');
  return { store: await openStore(database.url), drop: () => database.drop() };
}

/** `logger`: where the identity provider logs (default: silent, or the level in GH_TEST_LOG). */
export async function startHarness(backend: Backend = 'sqlite', identity: ConfigInput['identity'] = {}, logger?: Logger): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-idp-'));
  const { store, drop } = await createStore(backend, dir);
  await store.migrate();
  const { key, cert } = selfSignedCert();
  let handler: (req: any, res: any) => void = (_req, res) => { res.statusCode = 503; res.end(); };
  const server: Server = createServer({ key, cert }, (req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const events: RecordedEvent[] = [];
  // The test providers run on this host with the test certificate: each is configured as an
  // operator would a provider inside their own network (its address listed in
  // privateNetworks, its CA in caFile), unless the test says otherwise.
  const caFile = join(dir, 'provider-ca.pem');
  writeFileSync(caFile, cert);
  const federation = Object.fromEntries(Object.entries(identity.federation ?? {}).map(([name, p]) => [name, { privateNetworks: ['127.0.0.1/32'], caFile, ...p }]));
  const config = configSchema.parse({ mode: 'development', dataDir: dir, identity: { ...identity, federation } }) as any;
  const idp = await createIdentityProvider({
    config, store, logger: logger ?? pino({ level: process.env.GH_TEST_LOG ?? 'silent' }), publicUrl: origin,
    bus: { publish: (name, payload) => { events.push({ name, payload }); } },
  });
  handler = (req, res) => {
    if (!idp.handle(req, res)) { res.statusCode = 404; res.end('not identity'); }
  };
  return {
    origin, idp, store, events, fetch: trustingFetch(), dir,
    async close() {
      try {
        await idp.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await store.close();
      } finally {
        await drop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
