/**
 * The CA's HTTP API, as a handler the gateway mounts: `(req, res) => Promise<boolean>`
 * (false: not a PKI path, let the next handler try).
 *
 *   POST <apiPath>/issue   {"csr": PEM, "token": bootstrap token, "lifetimeSeconds"?}  → 201 JSON
 *   POST <apiPath>/renew   {"csr": PEM, "lifetimeSeconds"?} over mTLS with the current cert → 201 JSON
 *   GET  <apiPath>/bundle  trust bundle (PEM)
 *   GET  <apiPath>/trust   JSON {trustDomain, roots, intermediates, crls, crlNumber}: everything a
 *                          relying party in another process needs for OpenSSL's CRL checks
 *                          (which cover every certificate in the chain, so the root's CRL too)
 *   GET  <crl.path>/<key id>  CRL of the intermediate with that key id, DER (application/pkix-crl);
 *                          `….pem` for PEM: the distribution point of its certificates
 *   GET  <crl.path>        the same for certificates issued before per-intermediate URLs
 *                          (`<crl.path>.pem` for PEM); see CertificateAuthority.currentCrlOf
 *
 * Errors are JSON `{ "error": code, "message": public message }` with the registry's status;
 * the detail goes to the log only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { GatehouseError, toGatehouseError } from '../../core/errors.ts';
import type { CertificateAuthority, IssuedCertificate } from '../authority.ts';
import { crlRecordPems, crlToPem } from '../crl-builder.ts';
import { parseCrlPath, type CrlRequest } from '../crl-distribution-point.ts';

const MAX_BODY = 64 * 1024;

export interface PkiHttpHandlerOptions {
  ca: CertificateAuthority;
  logger?: Logger;
}

/**
 * `request.clientAddress`: the client's address as the gateway determined it (trusted proxies
 * applied); without it, the TCP peer's. Named in the refusal event of a bootstrap token.
 */
export type PkiHttpHandler = (req: IncomingMessage, res: ServerResponse, request?: { clientAddress?: string }) => Promise<boolean>;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new GatehouseError('ERR_REQUEST_MALFORMED', { detail: `content-type ${type || 'missing'}` });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new GatehouseError('ERR_REQUEST_BODY_TOO_LARGE', { detail: `over ${MAX_BODY} bytes` });
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try { value = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (cause) { throw new GatehouseError('ERR_REQUEST_MALFORMED', { detail: 'body is not JSON', cause }); }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GatehouseError('ERR_REQUEST_MALFORMED', { detail: 'body is not a JSON object' });
  return value as Record<string, unknown>;
}

function field(body: Record<string, unknown>, name: string): string {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof value !== 'string' || value.length === 0) throw new GatehouseError('ERR_REQUEST_MALFORMED', { detail: `missing string field ${name}` });
  return value;
}

function lifetime(body: Record<string, unknown>): { lifetimeSeconds?: number } {
  if (!Object.hasOwn(body, 'lifetimeSeconds')) return {};
  const v = body.lifetimeSeconds;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new GatehouseError('ERR_PKI_LIFETIME_INVALID', { detail: 'lifetimeSeconds is not an integer' });
  return { lifetimeSeconds: v };
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra });
  res.end(body);
}

function issuedJson(issued: IssuedCertificate): string {
  return JSON.stringify({
    serial: issued.serial, spiffeId: issued.spiffeId,
    notBefore: issued.notBefore.toISOString(), notAfter: issued.notAfter.toISOString(),
    certificate: issued.certificatePem, chain: issued.chainPem, trustBundle: issued.trustBundlePem,
  });
}

async function sendCrl(ca: CertificateAuthority, res: ServerResponse, request: CrlRequest): Promise<void> {
  const crl = await ca.currentCrlOf(request.keyId);
  if (!crl) throw new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND', { detail: `no CRL of a trusted intermediate with key id ${request.keyId}` });
  if (request.pem) return send(res, 200, 'application/x-pem-file', crlToPem(crl.der));
  send(res, 200, 'application/pkix-crl', crl.der, { 'cache-control': `public, max-age=${Math.max(0, Math.floor((crl.nextUpdate.getTime() - Date.now()) / 2000))}` });
}

/** Builds the PKI HTTP handler. */
export function createPkiHttpHandler(options: PkiHttpHandlerOptions): PkiHttpHandler {
  const { ca, logger } = options;
  const api = ca.config.apiPath;
  const crlPath = ca.config.crl.path;

  return async function pkiHttpHandler(req, res, request) {
    const path = (req.url ?? '/').split('?')[0]!;
    const crlRequest = parseCrlPath(crlPath, path);
    const route = crlRequest ? 'crl' : path.startsWith(`${api}/`) ? path.slice(api.length + 1) : undefined;
    if (route === undefined) return false;
    try {
      const method = req.method ?? 'GET';
      const expect = (m: string) => { if (method !== m) throw new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { headers: { allow: m } }); };
      switch (route) {
        case 'crl': {
          expect('GET');
          await sendCrl(ca, res, crlRequest!);
          return true;
        }
        case 'bundle': {
          expect('GET');
          send(res, 200, 'application/x-pem-file', ca.trustBundlePem);
          return true;
        }
        case 'trust': {
          expect('GET');
          const crl = await ca.currentCrl();
          send(res, 200, 'application/json', JSON.stringify({
            trustDomain: ca.trustDomain, roots: ca.trustBundlePem, intermediates: ca.intermediatesPem,
            crls: [...crlRecordPems(crl), ...ca.rootCrlPems], crlNumber: crl.number,
          }));
          return true;
        }
        case 'issue': {
          expect('POST');
          const body = await readJson(req);
          const clientAddress = request?.clientAddress ?? req.socket.remoteAddress;
          send(res, 201, 'application/json', issuedJson(await ca.issueWithBootstrapToken(field(body, 'csr'), field(body, 'token'), lifetime(body), clientAddress ? { clientAddress } : {})));
          return true;
        }
        case 'renew': {
          expect('POST');
          const socket = req.socket as Partial<TLSSocket>;
          const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
          const raw = peer && Object.keys(peer).length > 0 ? peer : undefined;
          const body = await readJson(req);
          const clientAddress = request?.clientAddress ?? req.socket.remoteAddress;
          send(res, 201, 'application/json', issuedJson(await ca.renew(field(body, 'csr'), raw, lifetime(body), clientAddress ? { clientAddress } : {})));
          return true;
        }
        default:
          throw new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND', { detail: `no PKI endpoint ${route}` });
      }
    } catch (error) {
      const e = toGatehouseError(error);
      logger?.warn({ code: e.code, detail: e.detail, path }, 'PKI request refused');
      if (!res.headersSent) send(res, e.status, 'application/json', JSON.stringify({ error: e.code, message: e.publicMessage }), e.headers ?? {});
      else res.destroy();
      return true;
    }
  };
}
