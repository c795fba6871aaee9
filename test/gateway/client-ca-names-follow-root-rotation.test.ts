/**
 * The public listener's acceptable client CA names (the CertificateRequest's list, what
 * `openssl s_client` prints as "Acceptable client certificate CA names") follow a root rotation
 * on a running instance, without a restart: a prepared root is offered next to the one in force,
 * so clients that choose their certificate by those names (s_client with `-xcert … -strict`,
 * curl, browsers, Java) present a certificate of the new root once it is activated. The names are
 * read with the real `openssl s_client`; the instance learns the change from its CA refresh (a
 * 1 s poll here; the bus event triggers the same refresh: test/pki/bus-announced-rotation.test.ts).
 * The swap keeps connections open and every other TLS setting of the listener.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import { openPkiCommandContext, openAuthority, caRotateRootCommand, caActivateRootCommand, type PkiCommandContext } from '../../src/pki/commands/index.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import type { Store } from '../../src/store/types.ts';
import { makeCsr, openssl, scratch } from '../pki/support/openssl.ts';

const TD = 'gatehouse.internal';
const CALLER = `spiffe://${TD}/svc/reporting`;
const WITHIN_MS = 10_000;

const pemsOf = (bundle: string) => bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
const commonName = (pem: string) => /(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(pem).subject)![1]!;

/** The lines s_client prints under "Acceptable client certificate CA names" (empty when none were sent). */
function acceptableCaNames(output: string): string[] {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Acceptable client certificate CA names'));
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!/^(CN|O|OU|C|DC)\s*=/.test(line)) break;
    names.push(line.trim());
  }
  return names;
}

describe('the listener\'s client CA names follow a root rotation without a restart', () => {
  let gw: TestGateway;
  let app: TestUpstream;
  let store: Store;
  let cli: PkiCommandContext;
  let ca: CertificateAuthority;
  let dir: Awaited<ReturnType<typeof scratch>>;
  let port: number;

  before(async () => {
    dir = await scratch();
    app = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false } },
      // Longer than the wait for the rotation below: the connection opened before it must still be open after.
      limits: { keepAliveTimeoutMs: 60_000 },
      pki: { crl: { refreshIntervalSeconds: 1 } },
      upstreams: { app: { url: app.url } },
      routes: [{ id: 'reports', path: '/reports', upstream: 'app', access: 'authenticated', authentication: { methods: ['mtls'] } }],
    }, { compose: true });
    port = gw.gateway.addresses().https.port;
    store = await openStoreFromConfig(gw.gateway.config);
    cli = await openPkiCommandContext({ store, config: gw.gateway.config });
    ca = await openAuthority(cli);
  });
  after(async () => { await store?.close(); await gw?.close(); await app?.close(); await dir?.cleanup(); });

  /** One handshake with s_client; `extra` adds options. Closes at once (nothing is sent). */
  function handshake(extra: string[] = []) {
    return openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...extra], '');
  }

  async function offeredNames(): Promise<string[]> {
    const r = await handshake();
    assert.equal(r.code, 0, r.stderr);
    return acceptableCaNames(r.stdout);
  }

  /** What must not change at the swap: protocol, suite, group, ALPN and the served certificate. */
  async function tlsSettings() {
    const r = await handshake(['-alpn', 'http/1.1']);
    assert.equal(r.code, 0, r.stderr);
    const line = (re: RegExp) => re.exec(r.stdout)?.[1]?.trim();
    // A CBC suite Node's default list takes but the listener's AEAD-only list refuses.
    const cbc = await handshake(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-SHA384']);
    return {
      protocol: line(/^New, (TLSv[\d.]+)/m),
      cipher: line(/^New, TLSv[\d.]+, Cipher is (\S+)/m),
      group: line(/^(?:Negotiated TLS1\.3 group|Server Temp Key): ([^\n]+)/m),
      alpn: line(/^ALPN protocol: ([^\n]+)/m),
      certificate: line(/^subject=([^\n]+)/m),
      cbcRefused: cbc.code !== 0,
      tls11Refused: (await handshake(['-tls1_1'])).code !== 0,
    };
  }

  async function until(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + WITHIN_MS;
    while (!(await check())) {
      assert.ok(Date.now() < deadline, `${what} not seen within ${WITHIN_MS} ms of the change (the instance polls every second)`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A key made by openssl and a certificate for it from the CA's issuing intermediate now, written for s_client. */
  async function clientCertificate(name: string) {
    const csr = await makeCsr(dir.dir, name, 'ec-p256');
    const issued = await ca.issue({ csr: csr.csrPem, spiffeId: CALLER });
    const [leaf, ...chain] = pemsOf(issued.chainPem);
    return { issued, keyPem: csr.keyPem, keyPath: csr.keyPath, certPath: await dir.write(`${name}.crt`, leaf!), chainPath: await dir.write(`${name}-chain.pem`, chain.join('')) };
  }

  /**
   * GET /reports/x with s_client choosing its certificate as name-driven clients do: `-xcert` is
   * presented only when it chains to a name the server offered (`-strict`). Resolves the status.
   * TLS 1.2: OpenSSL 3.0's strict check also wants the request's certificate types, which a TLS 1.3
   * CertificateRequest does not carry, so it never presents the certificate there.
   */
  async function getChoosingByNames(cert: { keyPath: string; certPath: string; chainPath: string }): Promise<number> {
    const r = await openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-tls1_2', '-strict',
      '-xkey', cert.keyPath, '-xcert', cert.certPath, '-xchain', cert.chainPath, '-ign_eof', '-quiet'],
    'GET /reports/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    return Number(/^HTTP\/1\.1 (\d{3})/m.exec(r.stdout)?.[1] ?? 0);
  }

  it('offers a prepared root at once, keeps open connections and other TLS settings, and a certificate of the activated root authenticates', async () => {
    const [oldRoot] = pemsOf(ca.trustBundlePem);
    assert.deepEqual((await offeredNames()).filter((n) => n.includes(commonName(oldRoot!))).length, 1, 'the root in force is offered from the start');
    const before = await tlsSettings();
    for (const [key, value] of Object.entries(before)) assert.notEqual(value, undefined, `${key} not read from s_client's output`);
    assert.equal(before.alpn, 'http/1.1');
    assert.equal(before.cbcRefused, true);

    // A workload of the old root on a keep-alive connection: the swap must not drop it.
    const old = await clientCertificate('old-root-caller');
    assert.equal(await getChoosingByNames(old), 200, 'a certificate of the root in force authenticates');
    const keepAlive = new HttpsAgent({ keepAlive: true, maxSockets: 1, cert: old.issued.chainPem, key: old.keyPem, rejectUnauthorized: false });
    const onSameConnection = () => new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      const req = httpsRequest(`${gw.url}/reports/x`, { agent: keepAlive }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });
    // A TLS 1.2 session (no client certificate) that resumes before the swap.
    const session = dir.path('session.pem');
    assert.equal((await handshake(['-tls1_2', '-sess_out', session])).code, 0);
    const resumes = async () => /^Reused, /m.test((await handshake(['-tls1_2', '-sess_in', session])).stdout);
    assert.equal(await resumes(), true, 'the session resumes while the names are unchanged');
    try {
      assert.equal((await onSameConnection()).status, 200);

      const prepared = await caRotateRootCommand(cli);
      const newRoot = pemsOf(prepared.trustBundlePem).find((p) => p !== oldRoot)!;
      await until('the prepared root among the acceptable client CA names', async () => (await offeredNames()).some((n) => n.includes(commonName(newRoot))));
      assert.ok((await offeredNames()).some((n) => n.includes(commonName(oldRoot!))), 'the root in force is still offered');

      const kept = await onSameConnection();
      assert.deepEqual(kept, { status: 200, reused: true }, 'the connection opened before the swap carried on');
      assert.deepEqual(await tlsSettings(), before, 'only the client CA names changed');
      // The new context has a new ticket key: a session made before (here without a certificate)
      // is not resumed, and the full handshake in its place carries the new names.
      assert.equal(await resumes(), false, 'a session from before the new names was resumed');

      await caActivateRootCommand(cli, { force: true });
      await ca.reload();
      const fresh = await clientCertificate('new-root-caller');
      assert.equal(new X509Certificate(pemsOf(fresh.issued.chainPem).at(-1)!).issuer, new X509Certificate(newRoot).subject, 'issued under the new root');
      // The instance verifies it once its refresh has read the activation's CRL (signed by the new intermediate too).
      await until('a client choosing by CA names authenticating with its certificate of the new root', async () => await getChoosingByNames(fresh) === 200);
      // Both roots stay offered while the old one's intermediate is trusted.
      const names = await offeredNames();
      assert.ok(names.some((n) => n.includes(commonName(oldRoot!))) && names.some((n) => n.includes(commonName(newRoot))), names.join('\n'));
    } finally {
      keepAlive.destroy();
    }
  });
});
