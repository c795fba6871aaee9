/**
 * Settings a reload validates but cannot apply to what is already running (listeners, the
 * store, the bus, the components built at start): they are reported in the log so that an
 * operator knows a restart is needed, instead of reading "configuration reloaded" and
 * believing, say, a new spool directory is in use.
 *
 * Applied live (and so not listed): `logging` (the level is set on the gateway's logger, which its
 * component loggers read; the access log switch is read per request), routes, upstreams, trustedProxies, ipRules, the listener's TLS
 * certificate files, the body size and header count limits and the shutdown grace, the rate limits themselves (`ratelimit.edge`,
 * `ratelimit.identity`: the stages are rebuilt per generation), the policy directory,
 * role hierarchy, route groups and operations (the policy extension's reload hook), the
 * detection rules (`detect.enabled`, each rule's switch, threshold, window, actions and
 * duration, `detect.maxKeys`: the detect extension's reload hook; counts are kept) and the
 * audit policy (`audit.redact` for records and log lines, `audit.sampling.routes`: the audit
 * extension's and the gateway's reload hooks).
 *
 * Not listed either: `audit.export` and `audit.trustedKeyFiles`, which only the `gatehouse
 * audit` commands read, from the file, each time they run.
 *
 * Restart-only parts of `detect` and `audit` are named by sub-key, only those that changed:
 * the periods of timers started at start (`detect.blockRefreshMs`, `detect.retentionDays`,
 * `audit.sampling.flushMs`, `audit.retention`) and the audit writer, opened once on its chain,
 * spool and signing key.
 */
import type { Config } from '../core/config/schema.ts';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Sections read once, when the components are built at start. */
const AT_START = ['mode', 'instanceId', 'publicUrl', 'tracing', 'pki', 'identity', 'authn', 'bus'] as const;

/** `detect` keys read once at start (the rest follow reloads). */
const DETECT_AT_START = ['blockRefreshMs', 'retentionDays'] as const;

/** `audit` keys read once at start; `sampling.flushMs` is checked apart. */
const AUDIT_AT_START = ['enabled', 'chain', 'spoolDir', 'fsync', 'batchMaxEvents', 'batchMaxDelayMs', 'commitThread', 'maxQueuedEvents', 'checkpoint', 'signingKeyFile', 'retention'] as const;

export function restartOnlyChanges(a: Config, b: Config): string[] {
  const keys: string[] = [];
  if (!same(a.listeners, { ...b.listeners, https: { ...b.listeners.https, tls: a.listeners.https.tls } })) keys.push('listeners');
  if (a.dataDir !== b.dataDir) keys.push('dataDir');
  if (!same(a.store, b.store)) keys.push('store');
  const live = { maxBodyBytes: 0, maxHeaderCount: 0, shutdownGraceMs: 0 };
  if (!same({ ...a.limits, ...live }, { ...b.limits, ...live })) keys.push('limits (listener limits)');
  for (const key of AT_START) if (!same(a[key], b[key])) keys.push(key);
  const { edge: _ea, identity: _ia, ...backendA } = a.ratelimit;
  const { edge: _eb, identity: _ib, ...backendB } = b.ratelimit;
  if (!same(backendA, backendB)) keys.push('ratelimit (backend: url, failOpen, fallbackInstances, timeoutMs, keyPrefix, maxKeys)');
  const { dir: _da, roles: _ra, routeGroups: _ga, operations: _oa, ...policyA } = a.policy;
  const { dir: _db, roles: _rb, routeGroups: _gb, operations: _ob, ...policyB } = b.policy;
  if (!same(policyA, policyB)) keys.push('policy (contextHeaders, cacheSize, assertion)');
  const detect = DETECT_AT_START.filter((k) => !same(a.detect[k], b.detect[k]));
  if (detect.length) keys.push(`detect (${detect.join(', ')})`);
  const audit: string[] = AUDIT_AT_START.filter((k) => !same(a.audit[k], b.audit[k]));
  if (a.audit.sampling.flushMs !== b.audit.sampling.flushMs) audit.push('sampling.flushMs');
  if (audit.length) keys.push(`audit (${audit.join(', ')})`);
  return keys;
}
