/**
 * "Gatehouse" for the workload-client suites: a real HTTPS server on 127.0.0.1:0 mounting the
 * CA's own HTTP handler (createPkiHttpHandler) over a fresh test CA. Its TLS certificate is
 * issued by that CA (identity spiffe://test.gatehouse/gateway/edge, IP 127.0.0.1), so a
 * workload trusts Gatehouse with `gatehouseCa: rootCertPem`. Like the gateway's public
 * listener, it asks for a client certificate without requiring one (renewal is over mTLS,
 * issuance is not) and leaves the judgement to the CA.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { PkiConfigInput } from '../../../src/core/config/pki-schema.ts';
import { createPkiHttpHandler } from '../../../src/pki/http/pki-http-handler.ts';
import { generateKeyAndCsr } from '../../../src/pki/mtls/rotator.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from '../../pki/support/ca-fixture.ts';

export { TRUST_DOMAIN };

export interface TestPki {
  f: CaFixture;
  url: string;
  /** PEM to trust for Gatehouse's HTTPS endpoint. */
  gatehouseCa: string;
  /** Requests the handler served, by path (to tell issuance from renewal). */
  calls: string[];
  token(spiffeId: string, names?: { dnsNames?: string[]; ipAddresses?: string[] }): Promise<string>;
  close(): Promise<void>;
}

export const spiffe = (kind: string, name: string): string => `spiffe://${TRUST_DOMAIN}/${kind}/${name}`;

export async function startTestPki(config: PkiConfigInput = {}): Promise<TestPki> {
  // Short CRLs are the point of these tests; the CA's own bounds still apply (min 120 s).
  const f = await caFixture({ config: { crl: { lifetimeSeconds: 120, refreshIntervalSeconds: 1 }, ...config } });
  const gatewayId = spiffe('gateway', 'edge');
  const c = await generateKeyAndCsr(gatewayId, { ipAddresses: ['127.0.0.1'] });
  const issued = await f.ca.issue({ csr: c.csrPem, spiffeId: gatewayId, allowedIpAddresses: ['127.0.0.1'], lifetimeSeconds: 86_400 });
  const handler = createPkiHttpHandler({ ca: f.ca });
  const calls: string[] = [];
  const server: Server = createServer({
    key: c.keyPem, cert: issued.chainPem, ca: f.ca.rootCertPem + f.ca.intermediateCertPem,
    requestCert: true, rejectUnauthorized: false,
  }, (req, res) => {
    calls.push((req.url ?? '').split('?')[0]!);
    handler(req, res).then((handled) => { if (!handled) { res.statusCode = 404; res.end(); } }, () => { res.destroy(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    f, calls,
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    gatehouseCa: f.ca.rootCertPem,
    async token(spiffeId, names = {}) {
      return (await f.ca.createBootstrapToken({ spiffeId, ...names, ttlSeconds: 600 })).token;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await f.cleanup();
    },
  };
}
