/**
 * STAND-IN for the part of Gatehouse that is not wired yet (see docs/secure-mail.md,
 * "Status"): mutual-TLS client authentication of services at the gateway, signing the
 * identity assertion for the upstream, and mutual TLS to the upstream. It is built only
 * from Gatehouse's own parts — MtlsServerGuard, the real assertion signer
 * (src/gateway/assertion/signer.ts), mtlsClientOptions — and presents the gateway's
 * certificate both ways, exactly what the services will see from the real gateway.
 *
 * Tests also use `asUser()` to send what the gateway sends for a logged-in user.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { createAssertionSigner, type AssertionSigner } from '../../../src/gateway/assertion/signer.ts';
import type { Identity } from '../../../src/gateway/context.ts';
import { MtlsServerGuard } from '../../../src/pki/mtls/server-guard.ts';
import { mtlsClientOptions } from '../../../src/pki/mtls/tls-options.ts';
import type { TlsMaterial } from '../../../src/pki/mtls/tls-material.ts';
import type { TrustStore } from '../../../src/pki/trust-store.ts';
import { IDENTITY_ASSERTION_HEADER } from '../../../src/sdk/contract.ts';

export const ISSUER = 'https://gatehouse.mail.test';

export interface Upstream { name: string; prefix: string; url: string; spiffeId: string }

export interface Response { status: number; body: unknown; text: string; headers: Record<string, string | string[] | undefined> }

export interface AssertionRelay {
  url: string;
  signer: AssertionSigner;
  jwks: { keys: Record<string, unknown>[] };
  /** Routes by path prefix; set once the services are up (their ports are ephemeral). */
  upstreams: Upstream[];
  /** What the gateway sends upstream for a logged-in user. */
  asUser(subject: string, upstream: Upstream, method: string, path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

function identity(subject: string, kind: 'user' | 'service'): Identity {
  return {
    subject, kind, roles: [], method: kind === 'user' ? 'session' : 'mtls', amr: kind === 'user' ? ['pwd'] : [],
    authTime: Math.floor(Date.now() / 1000), mfaTime: undefined, credentialId: `cred-${subject}`, issuer: ISSUER, attributes: {},
  };
}

export async function startAssertionRelay(material: TlsMaterial, trust: TrustStore, trustDomain: string): Promise<AssertionRelay> {
  const signer = await createAssertionSigner({ issuer: ISSUER });
  const agents = new Map<string, Agent>();
  const agentFor = (u: Upstream) => {
    let a = agents.get(u.name);
    if (!a) { a = new Agent({ connect: mtlsClientOptions(material, trust, { expectedSpiffeId: u.spiffeId }, { checkHostname: false }) }); agents.set(u.name, a); }
    return a;
  };
  const relay: AssertionRelay = {
    url: '', signer, jwks: JSON.parse(signer.jwksJson()) as { keys: Record<string, unknown>[] }, upstreams: [],
    async asUser(subject, upstream, method, path, body) {
      return send(upstream, method, path, identity(subject, 'user'), body === undefined ? undefined : JSON.stringify(body));
    },
    close: async () => { server.closeAllConnections(); await new Promise<void>((r) => server.close(() => r())); await Promise.all([...agents.values()].map((a) => a.close())); signer.close(); },
  };
  // As Gatehouse with upstreamIdentity.assertion: per-request (gatehouse.yaml): bound to the
  // method, path and request id, which goes along in x-request-id.
  async function send(u: Upstream, method: string, path: string, who: Identity, body: string | Buffer | undefined): Promise<Response> {
    const requestId = randomUUID();
    const assertion = await signer.signBound(who, u.name, { requestId, method, path: path.split('?')[0]! });
    const res = await request(u.url + path, {
      method: method as 'GET', dispatcher: agentFor(u),
      headers: { [IDENTITY_ASSERTION_HEADER]: assertion, 'x-request-id': requestId, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body ?? null,
    });
    const text = await res.body.text();
    let parsed: unknown;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    return { status: res.statusCode, body: parsed, text, headers: res.headers };
  }
  const guard = new MtlsServerGuard({ material, trust, policy: { allowedSpiffeIds: (id) => id.startsWith(`spiffe://${trustDomain}/svc/`) } });
  const server = createServer(guard.serverOptions(), (req, res) => {
    void (async () => {
      const peer = guard.peerOf(req.socket as TLSSocket)!;
      const path = req.url ?? '/';
      const u = relay.upstreams.find((x) => path === x.prefix || path.startsWith(`${x.prefix}/`));
      if (!u) { res.writeHead(404).end(); return; }
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      try {
        const r = await send(u, req.method ?? 'GET', path, identity(peer.spiffeId, 'service'), chunks.length ? Buffer.concat(chunks) : undefined);
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.text);
      } catch {
        res.writeHead(502).end();
      }
    })();
  });
  guard.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  relay.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}
