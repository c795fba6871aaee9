/**
 * A CA instance that runs beside the CLI on the same store, for the rotation suites: its own
 * store connection, CA and CRL watcher, an mTLS server guarded by the trust the watcher keeps,
 * and a client call to it. The rotation under test is made through `cli`; `watcher.refresh()`
 * is the instance's next refresh.
 */
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { pkiSchema } from '../../../src/core/config/pki-schema.ts';
import { CertificateAuthority } from '../../../src/pki/authority.ts';
import { caInitCommand, type PkiCommandContext } from '../../../src/pki/commands/index.ts';
import { CrlWatcher } from '../../../src/pki/mtls/crl-watcher.ts';
import { generateKeyAndCsr } from '../../../src/pki/mtls/rotator.ts';
import type { TrustStore } from '../../../src/pki/trust-store.ts';
import type { PkiBackend } from './backends.ts';
import { PUBLIC_URL, TRUST_DOMAIN } from './ca-fixture.ts';
import { startGuardedServer, type GuardedServer } from './mtls-server.ts';

export const WORKLOAD_ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;

export async function issueFrom(ca: CertificateAuthority, spiffeId = WORKLOAD_ID) {
  const csr = await generateKeyAndCsr(spiffeId);
  return { ...(await ca.issue({ csr: csr.csrPem, spiffeId })), keyPem: csr.keyPem };
}

export interface RunningInstance {
  cli: PkiCommandContext;
  instance: CertificateAuthority;
  watcher: CrlWatcher;
  /** The trust the watcher last handed out (what the server verifies clients with). */
  trust(): TrustStore;
  server: GuardedServer;
  /** A certificate the instance issued before anything was rotated. */
  issuedBefore: Awaited<ReturnType<typeof issueFrom>>;
  /** GET / on the server with this client certificate, trusting `ca` for the server's; resolves the status. */
  get(client: { keyPem: string; chainPem: string }, ca: string): Promise<number>;
  close(): Promise<void>;
}

export async function startRunningInstance(backend: PkiBackend): Promise<RunningInstance> {
  const created = await backend.create();
  const masterKey = Buffer.from(randomBytes(32).toString('base64url'));
  const config = pkiSchema.parse({ trustDomain: TRUST_DOMAIN });
  const cli: PkiCommandContext = { repo: created.repo, config, publicUrl: PUBLIC_URL, masterKey };
  let server: GuardedServer | undefined;
  try {
    await caInitCommand(cli);
    // The instance: its own store connection, CA and watcher, started before any rotation.
    const instance = await CertificateAuthority.open({ repo: await created.another(), masterKey, config, publicUrl: PUBLIC_URL });
    let trust: TrustStore | undefined;
    const watcher = new CrlWatcher({ ca: instance, onChange: (t) => { trust = t; server?.guard.update({ trust: t }); } });
    await watcher.start();
    watcher.stop();
    const own = await issueFrom(instance, `spiffe://${TRUST_DOMAIN}/gateway/edge`);
    const issuedBefore = await issueFrom(instance);
    server = await startGuardedServer({ material: { keyPem: own.keyPem, chainPem: own.chainPem, spiffeId: own.spiffeId, serial: own.serial, notBefore: own.notBefore, notAfter: own.notAfter }, trust: trust! });
    const port = server.port;
    const get = (client: { keyPem: string; chainPem: string }, ca: string) => new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/', ca, servername: 'localhost', checkServerIdentity: () => undefined, key: client.keyPem, cert: client.chainPem, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.end();
    });
    const running = server;
    return { cli, instance, watcher, trust: () => trust!, server: running, issuedBefore, get, close: async () => { await running.close(); await created.close(); } };
  } catch (err) {
    await server?.close();
    await created.close();
    throw err;
  }
}
