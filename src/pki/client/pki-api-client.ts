/**
 * The workload's side of Gatehouse's PKI HTTP API (docs/pki.md, "HTTP API"): first
 * issuance with a bootstrap token, renewal over mTLS with the current certificate, and the
 * trust material (roots, intermediates, CRLs). Only CSRs and public material cross the
 * wire; the private key stays in the caller's process.
 *
 * Every answer is parsed, never cast. A refusal from the CA keeps the CA's code when it is
 * one of ours (e.g. `ERR_PKI_BOOTSTRAP_TOKEN_INVALID` for a replayed token), so callers can
 * switch on it; transport failures become `ERR_PKI_CLIENT_CA_UNREACHABLE`.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../../core/error-codes.ts';
import { GatehouseError } from '../../core/errors.ts';
import type { TlsMaterial } from '../mtls/tls-material.ts';
import type { IssuedCertificate } from '../certificate-requests.ts';

/** Default path prefix of the PKI API (`pki.apiPath`). */
export const DEFAULT_PKI_API_PATH = '/.well-known/gatehouse/pki';

const MAX_ANSWER_BYTES = 1024 * 1024;

export interface PkiApiClientOptions {
  /** Origin of Gatehouse, e.g. `https://gatehouse.example:8443` (a path is ignored). */
  gatehouseUrl: string | URL;
  /** `pki.apiPath` of that Gatehouse. Default `/.well-known/gatehouse/pki`. */
  apiPath?: string;
  /** PEM certificate(s) to trust for Gatehouse's own HTTPS endpoint. Default: the system's roots. */
  gatehouseCa?: string;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
}

/**
 * A certificate as the CA returns it: the authority's own type (a type-only import, so the client
 * still loads nothing of the authority), not a copy of it that could drift.
 */
export type IssuedAnswer = IssuedCertificate;

/** The trust material as the CA publishes it (not yet verified: see `buildVerifiedTrust`). */
export interface TrustAnswer {
  trustDomain: string;
  roots: string;
  intermediates: string;
  crls: string[];
  crlNumber: number;
}

const pem = z.string().min(1).max(256 * 1024);
const issuedSchema = z.object({
  serial: z.string().regex(/^[0-9a-f]{1,64}$/),
  spiffeId: z.string().startsWith('spiffe://').max(2048),
  notBefore: z.iso.datetime(),
  notAfter: z.iso.datetime(),
  certificate: pem,
  chain: pem,
  trustBundle: pem,
});
const trustSchema = z.object({
  trustDomain: z.string().min(1).max(255),
  roots: pem,
  intermediates: pem,
  crls: z.array(pem).min(1).max(16),
  crlNumber: z.number().int().nonnegative(),
});
const errorSchema = z.object({ error: z.string(), message: z.string().optional() });

function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

/** Talks to one Gatehouse's PKI API. Call `close()` when done. */
export class PkiApiClient {
  readonly #base: URL;
  readonly #apiPath: string;
  readonly #gatehouseCa: string | undefined;
  readonly #timeoutMs: number;
  readonly #agent: Agent;

  constructor(options: PkiApiClientOptions) {
    this.#base = new URL(options.gatehouseUrl);
    if (this.#base.protocol !== 'https:') {
      // The bootstrap token and the trust anchors travel on this connection: never in clear.
      throw new GatehouseError('ERR_PKI_CLIENT_CA_UNREACHABLE', { detail: `gatehouseUrl must be https, got ${this.#base.protocol}` });
    }
    this.#apiPath = (options.apiPath ?? DEFAULT_PKI_API_PATH).replace(/\/+$/, '');
    this.#gatehouseCa = options.gatehouseCa;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#agent = new Agent({ connect: this.#connectOptions(), headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs });
  }

  /** First certificate: the one-time bootstrap token proves the identity. */
  async issue(csrPem: string, token: string, lifetimeSeconds?: number): Promise<IssuedAnswer> {
    const body = JSON.stringify({ csr: csrPem, token, ...(lifetimeSeconds !== undefined ? { lifetimeSeconds } : {}) });
    return parseIssued(await this.#call('POST', 'issue', body, this.#agent));
  }

  /** Renewal: the connection presents `current` as its client certificate (mTLS). */
  async renew(csrPem: string, current: TlsMaterial, lifetimeSeconds?: number): Promise<IssuedAnswer> {
    // A dedicated agent: the client certificate is part of the connection, and a pooled
    // connection made with an older certificate must not authenticate this renewal.
    const agent = new Agent({ connect: { ...this.#connectOptions(), key: current.keyPem, cert: current.chainPem }, pipelining: 0 });
    try {
      const body = JSON.stringify({ csr: csrPem, ...(lifetimeSeconds !== undefined ? { lifetimeSeconds } : {}) });
      return parseIssued(await this.#call('POST', 'renew', body, agent));
    } finally {
      await agent.close().catch(() => undefined);
    }
  }

  /** Roots, intermediates and current CRLs (unverified; see `buildVerifiedTrust`). */
  async trust(): Promise<TrustAnswer> {
    const value = await this.#call('GET', 'trust', undefined, this.#agent);
    const parsed = trustSchema.safeParse(value);
    if (!parsed.success) throw new GatehouseError('ERR_PKI_CLIENT_RESPONSE_INVALID', { detail: `trust answer: ${parsed.error.message.slice(0, 300)}` });
    return parsed.data;
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => undefined);
  }

  #connectOptions() {
    return {
      ...(this.#gatehouseCa ? { ca: this.#gatehouseCa } : {}),
      rejectUnauthorized: true,
      // Fresh handshakes only: a resumed session skips checkServerIdentity in Node.
      maxCachedSessions: 0,
      timeout: this.#timeoutMs,
    };
  }

  async #call(method: 'GET' | 'POST', endpoint: string, body: string | undefined, dispatcher: Dispatcher): Promise<unknown> {
    const url = new URL(`${this.#apiPath}/${endpoint}`, this.#base);
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method, dispatcher, body: body ?? null,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs,
      });
      status = res.statusCode;
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > MAX_ANSWER_BYTES) { res.body.destroy(); throw new Error(`answer of ${declared} bytes`); }
      text = await res.body.text();
      if (text.length > MAX_ANSWER_BYTES) throw new Error(`answer over ${MAX_ANSWER_BYTES} bytes`);
    } catch (cause) {
      throw new GatehouseError('ERR_PKI_CLIENT_CA_UNREACHABLE', { detail: `${method} ${url.pathname}: ${(cause as Error).message}`, cause });
    }
    let value: unknown;
    try { value = JSON.parse(text); } catch (cause) {
      throw new GatehouseError('ERR_PKI_CLIENT_RESPONSE_INVALID', { detail: `${method} ${url.pathname}: status ${status}, body is not JSON`, cause });
    }
    if (status >= 200 && status < 300) return value;
    const refusal = errorSchema.safeParse(value);
    const code = refusal.success && isErrorCode(refusal.data.error) ? refusal.data.error : 'ERR_PKI_CLIENT_RESPONSE_INVALID';
    throw new GatehouseError(code, { detail: `${method} ${url.pathname} refused by the CA with status ${status}${refusal.success ? ` (${refusal.data.error})` : ''}` });
  }
}

function parseIssued(value: unknown): IssuedAnswer {
  const parsed = issuedSchema.safeParse(value);
  if (!parsed.success) throw new GatehouseError('ERR_PKI_CLIENT_RESPONSE_INVALID', { detail: `issue answer: ${parsed.error.message.slice(0, 300)}` });
  const v = parsed.data;
  return {
    serial: v.serial, spiffeId: v.spiffeId, notBefore: new Date(v.notBefore), notAfter: new Date(v.notAfter),
    certificatePem: v.certificate, chainPem: v.chain, trustBundlePem: v.trustBundle,
  };
}
