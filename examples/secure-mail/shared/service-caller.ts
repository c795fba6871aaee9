/**
 * Service-to-service calls. They go to Gatehouse (never to the other service directly) with
 * this service's own client certificate; Gatehouse authenticates the certificate, applies
 * its policy, and forwards with an identity assertion naming this service.
 */
import { Agent, request } from 'undici';
import { mtlsClientOptions } from '../../../src/pki/mtls/tls-options.ts';
import { MailError } from './errors.ts';
import type { ServiceTls } from './service-tls.ts';

export interface ServiceCallerOptions {
  /** Gatehouse's URL, e.g. `https://localhost:8443`. */
  gatewayUrl: string;
  /** This service's certificate (presented as the client certificate) and trust. */
  tls: ServiceTls;
  /** Gatehouse's SPIFFE id: the only server this caller talks to (when `gatewayCa` is not given). */
  gatewaySpiffeId: string;
  /**
   * PEM certificate(s) trusted for Gatehouse's public listener. Given: the listener's
   * certificate and host name are checked like a browser would (the listener presents its
   * public certificate, not a workload one). Absent: the listener must present `gatewaySpiffeId`.
   */
  gatewayCa?: string;
  timeoutMs?: number;
}

export interface CallResult<T = unknown> { status: number; body: T }

export interface ServiceCaller {
  /** JSON call; a network failure or 5xx is MAIL_DEPENDENCY_FAILED, other statuses are returned. */
  call<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<CallResult<T>>;
  close(): Promise<void>;
}

export function createServiceCaller(options: ServiceCallerOptions): ServiceCaller {
  const build = () => {
    const material = options.tls.material();
    const connect = options.gatewayCa === undefined
      ? mtlsClientOptions(material, options.tls.trust(), { expectedSpiffeId: options.gatewaySpiffeId }, { checkHostname: false })
      : { key: material.keyPem, cert: material.chainPem, ca: options.gatewayCa, rejectUnauthorized: true };
    return new Agent({ connect, keepAliveTimeout: 4_000 });
  };
  let agent = build();
  // A renewed certificate is used for the next connections; the old agent finishes what it carries.
  const unsubscribe = options.tls.onChange((change) => {
    if (!change.material && options.gatewayCa !== undefined) return;
    const old = agent;
    agent = build();
    void old.close().catch(() => undefined);
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
    close: () => { unsubscribe(); return agent.close(); },
  };
}
