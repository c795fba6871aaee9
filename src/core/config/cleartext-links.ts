/**
 * Connections that would cross a network in clear text: to upstreams, the trace collector,
 * the database, the shared rate-limit store, the event bus, the audit exports and a
 * federation provider's egress proxy (when it is sent credentials). Each
 * carries credentials or security records (audit events, blocks, revocations), so over a
 * network an eavesdropper reads them and anyone on the path can alter or forge them. On
 * loopback there is no network to cross. These are development conveniences: warned about,
 * and refused in production (load.ts).
 */
import { isLoopbackAddress } from '../loopback.ts';
import type { Config } from './schema.ts';
import type { ConfigWarning } from './load.ts';

/** Loopback as written in a URL's host (IPv6 in brackets): the name, or a loopback address. */
function isLoopbackUrlHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host.replace(/^\[(.*)\]$/, '$1'));
}

/** The URL as the clients parse it, or undefined when it does not parse (the schema reports that). */
function parsed(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * Whether a URL of this scheme would reach a non-loopback host without TLS. The scheme is the
 * one the URL parser reads, not the text's first letters: it lower-cases `HTTP:` and drops
 * leading blanks, and the connection is made by what it reads.
 */
function clearToNetwork(url: string, clearScheme: string): boolean {
  const u = parsed(url);
  return u !== undefined && u.protocol === `${clearScheme}:` && !isLoopbackUrlHost(u.hostname);
}

/** sslmode values under which `pg` checks the server's certificate (docs/store.md). */
const VERIFYING_SSLMODES = new Set(['verify-full', 'verify-ca']);

/**
 * A PostgreSQL URL reaching a non-loopback host without a verified TLS connection. A Unix
 * socket (no host, or a `host=/path` parameter) crosses no network.
 */
function postgresWithoutVerifiedTls(url: string): boolean {
  if (!/^postgres(ql)?:\/\//.test(url)) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const params = new Map([...parsed.searchParams].map(([k, v]) => [k.toLowerCase(), v]));
  const host = params.get('host') ?? parsed.hostname;
  if (host === '' || host.startsWith('/') || isLoopbackUrlHost(host)) return false;
  return !VERIFYING_SSLMODES.has((params.get('sslmode') ?? '').toLowerCase());
}

export function cleartextLinkWarnings(config: Config): ConfigWarning[] {
  const w: ConfigWarning[] = [];
  for (const [name, u] of Object.entries(config.upstreams)) {
    if (!clearToNetwork(u.url, 'http')) continue;
    // Credentials the gateway injects (credential-isolation) would be read by anyone on the path.
    if (u.credentials !== undefined) w.push({ path: ['upstreams', name, 'credentials'], message: 'upstream credentials sent over plain HTTP to a non-loopback upstream (anyone on the path reads them and can replay them); use https:// with mTLS' });
    else w.push({ path: ['upstreams', name, 'url'], message: 'plain HTTP to a non-loopback upstream (use https:// with mTLS)' });
  }
  const t = config.tracing;
  if (t.enabled && clearToNetwork(t.endpoint, 'http')) {
    const url = new URL(t.endpoint);
    const credentials = url.username !== '' || url.password !== '' || Object.keys(t.headers).length > 0;
    w.push({ path: ['tracing', 'endpoint'], message: `plain HTTP to a non-loopback collector${credentials ? ' with credentials (userinfo or headers travel in clear text)' : ' (span contents can be read and altered in transit)'}; use https://` });
  }
  if (config.store.url !== undefined && postgresWithoutVerifiedTls(config.store.url)) {
    w.push({ path: ['store', 'url'], message: 'PostgreSQL on a non-loopback host without a verified TLS connection (the password and every record, audit included, cross the network readable and alterable); add sslmode=verify-full (with sslrootcert=<file> for a private CA)' });
  }
  if (clearToNetwork(config.ratelimit.url, 'redis')) {
    w.push({ path: ['ratelimit', 'url'], message: 'Redis on a non-loopback host over plain TCP (its password and the limits can be read and altered in transit); use rediss://' });
  }
  if (clearToNetwork(config.bus.url, 'nats')) {
    w.push({ path: ['bus', 'url'], message: 'NATS on a non-loopback host over plain TCP (security events, blocks and revocations can be read, altered and forged in transit); use tls://' });
  }
  const syslog = config.audit.export.syslog;
  if (syslog && (clearToNetwork(syslog.url, 'udp') || clearToNetwork(syslog.url, 'tcp'))) {
    w.push({ path: ['audit', 'export', 'syslog', 'url'], message: 'audit records to a non-loopback syslog receiver in clear text (they can be read, dropped and forged in transit); use tls://host:port (RFC 5425) or a local relay that forwards over TLS' });
  }
  const otlp = config.audit.export.otlp;
  if (otlp && clearToNetwork(otlp.url, 'http')) {
    const credentials = Object.keys(otlp.headers).length > 0 || /^http:\/\/[^/@]*@/.test(otlp.url);
    w.push({ path: ['audit', 'export', 'otlp', 'url'], message: `audit records to a non-loopback collector over plain HTTP${credentials ? ' with credentials (headers or userinfo travel in clear text)' : ' (they can be read and altered in transit)'}; use https://` });
  }
  for (const [name, p] of Object.entries(config.identity.federation)) {
    // Without credentials an http:// proxy sees what it tunnels anyway (the TLS inside is the
    // provider's); with them, anyone on the path to the proxy reads and reuses them.
    if (p.proxy === undefined || !clearToNetwork(p.proxy, 'http')) continue;
    const url = new URL(p.proxy);
    if (url.username !== '' || url.password !== '') {
      w.push({ path: ['identity', 'federation', name, 'proxy'], message: 'proxy credentials sent over plain HTTP to a non-loopback proxy (anyone on the path reads them and can use the proxy as Gatehouse); use an https:// proxy URL' });
    }
  }
  return w;
}
