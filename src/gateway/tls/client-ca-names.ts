/**
 * The CA names the public listener sends in its CertificateRequest (its `ca` option), kept equal
 * to the roots Gatehouse trusts now.
 *
 * TLS clients holding several certificates choose the one to present by those names (OpenSSL's
 * `s_client` and curl, browsers, Java's key managers): a root missing from the list makes them
 * offer no certificate of its chain, even though the authenticate stage (which judges client
 * certificates with the current trust itself) would accept it. A list read once at start went
 * stale at `ca rotate-root`: workloads moved to the new root could not authenticate with mTLS at
 * the gateway until a restart. So the listener follows the CA refresh (bus event or poll): when
 * the trusted roots change (prepared, activated, cancelled, a previous root dropping out) it
 * gets a new secure context with the new list; other CA changes (a CRL, an intermediate) leave
 * the list, and the context, as they are.
 */
import type { GatewayExtension } from '../gateway.ts';

/** The bundle whose names the listener offers: the first extension that has one (the CA). */
export function clientCaBundle(extensions: readonly GatewayExtension[]): string | undefined {
  return extensions.map((e) => e.clientCaBundle?.()).find((b) => b);
}

/**
 * Calls `apply` with the new bundle each time it differs from `current()` after an extension
 * says its bundle may have changed. An empty bundle is never applied: a CA that could not be read
 * keeps the names it had. Returns the function that stops following.
 *
 * @example
 *   const stop = followClientCaBundle(extensions, () => tls.ca, (ca) => server.setSecureContext(tlsOptions({ ...tls, ca })));
 */
export function followClientCaBundle(extensions: readonly GatewayExtension[], current: () => string | undefined, apply: (bundle: string) => void): () => void {
  const check = () => {
    const next = clientCaBundle(extensions);
    if (next && next !== current()) apply(next);
  };
  const stops = extensions.flatMap((e) => (e.onClientCaBundleChange ? [e.onClientCaBundleChange(check)] : []));
  return () => { for (const stop of stops) stop(); };
}
