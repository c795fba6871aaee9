/**
 * Service-to-service calls. They go to Gatehouse (never to the other service directly) with
 * this service's own client certificate; Gatehouse authenticates the certificate, applies
 * its policy, and forwards with an identity assertion naming this service.
 */
import { Agent, request } from 'undici';
import type { TlsMaterial } from '../../../src/pki/mtls/tls-material.ts';
import type { TrustStore } from '../../../src/pki/trust-store.ts';
import { mtlsClientOptions } from '../../../src/pki/mtls/tls-options.ts';
import { MailError } from './errors.ts';

export interface ServiceCallerOptions {
  /** Gatehouse's URL, e.g. `https://127.0.0.1:8443`. */
  gatewayUrl: string;
  material: TlsMaterial;
  trust: TrustStore;
  /** Gatehouse's SPIFFE id: the only server this caller talks to. */
  gatewaySpiffeId: string;
  timeoutMs?: number;
}

export interface CallResult<T = unknown> { status: number; body: T }

export interface ServiceCaller {
  /** JSON call; a network failure or 5xx is MAIL_DEPENDENCY_FAILED, other statuses are returned. */
  call<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<CallResult<T>>;
  close(): Promise<void>;
}

export function createServiceCaller(options: ServiceCallerOptions): ServiceCaller {
  const agent = new Agent({
    connect: mtlsClientOptions(options.material, options.trust, { expectedSpiffeId: options.gatewaySpiffeId }, { checkHostname: false }),
    keepAliveTimeout: 4_000,
  });
  const timeout = options.timeoutMs ?? 10_000;
  return {
    async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<CallResult<T>> {
      let res;
      try {
        res = await request(new URL(path, options.gatewayUrl), {
          method, dispatcher: agent, headersTimeout: timeout, bodyTimeout: timeout,
          headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
          body: body === undefined ? null : JSON.stringify(body),
        });
      } catch (err) {
        throw new MailError('MAIL_DEPENDENCY_FAILED', { detail: `${method} ${path}: ${(err as Error).message}`, cause: err });
      }
      const text = await res.body.text();
      let parsed: unknown = undefined;
      if (text) {
        try { parsed = JSON.parse(text); } catch { parsed = undefined; }
      }
      if (res.statusCode >= 500) throw new MailError('MAIL_DEPENDENCY_FAILED', { detail: `${method} ${path}: status ${res.statusCode} ${text.slice(0, 200)}` });
      return { status: res.statusCode, body: parsed as T };
    },
    close: () => agent.close(),
  };
}
