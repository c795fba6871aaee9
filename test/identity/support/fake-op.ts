/**
 * A hostile (or merely non-conforming) external OpenID provider for federation tests: a real
 * HTTPS server with discovery and JWKS whose token endpoint answers what the test says and
 * records what it was sent. Its authorization endpoint is never served: tests play the
 * browser and decide where it goes next.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { selfSignedCert } from './harness.ts';

export interface FakeOp {
  issuer: string;
  /** Paths of every request received, in order. */
  requests: string[];
  /** When true, the discovery document is answered with 503. */
  failDiscovery: boolean;
  /** Form bodies the token endpoint received. */
  tokenRequests: URLSearchParams[];
  /** The signing key published in the JWKS (kid `op-1`). */
  key: CryptoKey;
  /** What the token endpoint answers: status and JSON body; default 400 invalid_grant. */
  tokenResponse: (body: URLSearchParams) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown };
  /** What the userinfo endpoint answers (JSON). */
  userinfo: Record<string, unknown>;
  close(): Promise<void>;
}

/** `host`: how the issuer names the provider (default its address, 127.0.0.1; `localhost` names it by a name Gatehouse resolves). */
export async function startFakeOp(metadata: Record<string, unknown> = {}, options: { host?: string } = {}): Promise<FakeOp> {
  const { key: tlsKey, cert } = selfSignedCert();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'op-1', alg: 'ES256', use: 'sig' };
  let issuer = '';
  const op: FakeOp = {
    issuer: '', requests: [], failDiscovery: false, tokenRequests: [], key: privateKey, userinfo: {},
    tokenResponse: () => ({ status: 400, body: { error: 'invalid_grant' } }),
    close: async () => {},
  };
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer({ key: tlsKey, cert }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    op.requests.push(path);
    if (path === '/.well-known/openid-configuration' && op.failDiscovery) {
      json(res, 503, { error: 'temporarily_unavailable' });
      return;
    }
    if (path === '/.well-known/openid-configuration') {
      json(res, 200, {
        issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
        userinfo_endpoint: `${issuer}/userinfo`, response_types_supported: ['code'], subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'], code_challenge_methods_supported: ['S256'], ...metadata,
      });
      return;
    }
    if (path === '/jwks') { json(res, 200, { keys: [jwk] }); return; }
    if (path === '/userinfo') { json(res, 200, op.userinfo); return; }
    if (path === '/token' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        op.tokenRequests.push(body);
        const out = await op.tokenResponse(body);
        json(res, out.status, out.body);
      });
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `https://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  op.issuer = issuer;
  op.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return op;
}
