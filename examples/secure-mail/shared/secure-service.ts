/**
 * How every secure-mail service listens: HTTPS with mutual TLS only, accepting only
 * Gatehouse's own certificate (any other peer — no certificate, another service's
 * certificate, an untrusted or revoked one — is cut off in the TLS handshake), and then only
 * requests carrying a valid identity assertion signed by Gatehouse (verified with the SDK).
 * Every refusal and every handled request is an audit event.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { MtlsServerGuard } from '../../../src/pki/mtls/server-guard.ts';
import type { ServiceTls } from './service-tls.ts';
import type { AssertionVerifier } from '../../../src/sdk/verifier.ts';
import type { GatehouseIdentity } from '../../../src/sdk/identity.ts';
import { IDENTITY_ASSERTION_HEADER } from '../../../src/sdk/contract.ts';
import type { AuditLog } from './audit.ts';
import { publicError, sendError } from './http.ts';
import { MailError } from './errors.ts';

/** What a handler knows about the request it serves. */
export interface RequestScope {
  identity: GatehouseIdentity;
  /** SPIFFE id of the TLS peer (always Gatehouse). */
  peer: string;
  requestId: string | undefined;
  logger: Logger;
}

export type ServiceHandler = (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => Promise<void>;

export interface SecureServiceOptions {
  name: string;
  host?: string;
  port: number;
  /** Certificate and trust; rotations and trust refreshes reach the listener at once. */
  tls: ServiceTls;
  /** SPIFFE ids allowed to connect: Gatehouse's. */
  allowedPeers: readonly string[];
  verifier: AssertionVerifier;
  logger: Logger;
  audit: AuditLog;
  handler: ServiceHandler;
}

export interface SecureService {
  readonly server: Server;
  readonly guard: MtlsServerGuard;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

function single(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  // Two assertion headers are an attack or a broken proxy: refused by the verifier as missing/invalid.
  return Array.isArray(v) ? undefined : v;
}

export async function startSecureService(options: SecureServiceOptions): Promise<SecureService> {
  const { logger, audit } = options;
  const guard = new MtlsServerGuard({
    material: options.tls.material(),
    trust: options.tls.trust(),
    policy: { allowedSpiffeIds: options.allowedPeers },
    requireClientCert: true,
    onEvent: (event) => {
      if (event.type === 'pki.peer.refused') {
        audit.record({ action: 'connect', outcome: 'denied', actor: event.spiffeId ?? 'anonymous', reason: event.code });
      }
    },
  });
  const server = createServer({ ...guard.serverOptions(), keepAliveTimeout: 5_000, headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    void (async () => {
      const requestId = single(req, 'x-request-id');
      const peer = guard.peerOf(req.socket as TLSSocket);
      const action = `${req.method ?? '?'} ${(req.url ?? '').split('?')[0]}`;
      if (peer === undefined) {
        // The guard destroys refused sockets before parsing; this is a second, fail-closed line.
        req.socket.destroy();
        return;
      }
      let identity: GatehouseIdentity;
      try {
        if (Array.isArray(req.headers[IDENTITY_ASSERTION_HEADER])) throw new MailError('MAIL_INPUT_INVALID', { detail: 'more than one identity assertion' });
        identity = await options.verifier.verify(single(req, IDENTITY_ASSERTION_HEADER), { method: req.method ?? 'GET', url: req.url ?? '/', ...(requestId ? { requestId } : {}) });
      } catch (err) {
        audit.record({ action, outcome: 'denied', actor: peer.spiffeId, reason: publicError(err).code, requestId });
        sendError(res, err, logger);
        return;
      }
      const scope: RequestScope = { identity, peer: peer.spiffeId, requestId, logger: logger.child({ requestId, subject: identity.subject }) };
      try {
        await options.handler(req, res, scope);
      } catch (err) {
        sendError(res, err, scope.logger);
      }
    })();
  });
  guard.attach(server);
  const unsubscribe = options.tls.onChange((change) => guard.update(change));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, service: options.name }, 'listening (mutual TLS only)');
  return {
    server, guard, port,
    url: `https://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { unsubscribe(); server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
