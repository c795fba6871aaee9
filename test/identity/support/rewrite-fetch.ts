/**
 * A fetch for relying parties that talk to an issuer whose public URL is not where the
 * test's server listens (as behind a load balancer): requests for `origin` go to
 * `connectOrigin` instead, like `curl --resolve`. URLs, `iss`, DPoP `htu` and audiences
 * keep naming the public URL. Optionally presents a client certificate (mutual TLS).
 */
import { Agent, fetch as undiciFetch } from 'undici';

export interface RewriteFetchOptions {
  /** The public origin, e.g. `https://idp.gatehouse.test`. */
  origin: string;
  /** Where to connect instead, e.g. `https://127.0.0.1:40123`. */
  connectOrigin: string;
  /** PEM of the server certificate (or its CA) to trust. */
  ca: string;
  /** Client certificate chain and key (PEM) for mutual TLS. */
  clientCert?: { cert: string; key: string };
}

export function rewriteFetch(options: RewriteFetchOptions): typeof fetch {
  const dispatcher = new Agent({
    connect: { ca: options.ca, ...(options.clientCert ? { cert: options.clientCert.cert, key: options.clientCert.key } : {}) },
    keepAliveTimeout: 10_000,
  });
  return ((input: string | URL | Request, init: RequestInit = {}) => {
    const url = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
    const target = url.startsWith(options.origin) ? options.connectOrigin + url.slice(options.origin.length) : url;
    return undiciFetch(target, { ...(init as object), dispatcher } as never);
  }) as unknown as typeof fetch;
}
