/**
 * Schema of the audit log (`audit` key): durability, checkpoints, retention, sampling,
 * redaction and export endpoints (docs/audit.md).
 */
import { z } from 'zod';

const regexSource = z.string().min(1).max(500).refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

export const auditSchema = z.object({
  enabled: z.boolean().default(true).describe('Write every event to the tamper-evident audit log in the store.'),
  chain: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('main').describe('Hash chain to append to. All instances share `main` by default (appends serialize on the chain head row); give each instance its own (e.g. `${INSTANCE}`) to avoid that contention.'),
  spoolDir: z.string().optional().describe('Write-ahead spool directory (default `<dataDir>/audit-spool`). Every event is appended here before it is acknowledged, and kept while the store is unreachable.'),
  fsync: z.boolean().default(true).describe('fdatasync the spool before each group commit (survives power loss, not only a killed process).'),
  batchMaxEvents: z.number().int().min(1).max(10_000).default(1000).describe('Group commit: most events written in one transaction.'),
  batchMaxDelayMs: z.number().int().min(0).max(1000).default(25).describe('Group commit: longest an event waits for its transaction (it is already safe in the spool; a longer window means fewer, larger transactions).'),
  commitThread: z.boolean().default(true).describe('Commit the batches (chain hashes, inserts) on a worker thread with its own store connection, so the request path does not pay for them on a machine with a core to spare. Off: they run on the main thread. An in-memory SQLite store always commits on the main thread.'),
  maxQueuedEvents: z.number().int().min(1000).max(10_000_000).default(200_000).describe('Events kept in memory while the store is slow or down; beyond it events stay only in the spool and are re-read from it.'),
  checkpoint: z.object({
    everyRecords: z.number().int().min(1).max(10_000_000).default(10_000).describe('Sign a checkpoint after this many records.'),
    everyMs: z.number().int().min(1000).max(24 * 3600 * 1000).default(60_000).describe('…or after this long, whichever comes first (when there are new records).'),
  }).strict().default({ everyRecords: 10_000, everyMs: 60_000 }),
  signingKeyFile: z.string().optional().describe('Ed25519 private JWK that signs checkpoints (default `<dataDir>/audit-signing-key.jwk`). Generated when missing in development (with a warning); must exist in production (`gatehouse audit keygen`).'),
  trustedKeyFiles: z.array(z.string()).default([]).describe('Public JWKs of earlier signing keys, accepted by `audit verify` for old checkpoints.'),
  retention: z.object({
    maxAgeDays: z.number().int().min(0).max(36_500).default(0).describe('Delete records older than this many days (0 keeps everything). Deletion stops at a checkpoint so that verification can start from it.'),
  }).strict().default({ maxAgeDays: 0 }),
  sampling: z.object({
    routes: z.record(z.string(), z.number().min(0).max(1)).default({}).describe('Per route id: fraction of allowed (2xx/3xx) access events kept. Sampled-out events are counted and the counts recorded every `flushMs`. Denials, errors and security events are never sampled.'),
    flushMs: z.number().int().min(1000).max(3600_000).default(60_000).describe('How often the counts of sampled-out events are recorded.'),
  }).strict().default({ routes: {}, flushMs: 60_000 }),
  redact: z.object({
    keys: z.array(regexSource).default([]).describe('Extra key patterns (regex, case-insensitive) whose values are always redacted.'),
    patterns: z.array(regexSource).default([]).describe('Extra value patterns (regex); every match in any string is redacted.'),
  }).strict().default({ keys: [], patterns: [] }),
  export: z.object({
    syslog: z.object({
      url: z.string().regex(/^(udp|tcp|tls):\/\/[^/\s]+:\d+$/, 'udp://host:port, tcp://host:port or tls://host:port').describe('RFC 5424 syslog receiver: `udp://` (RFC 5426), `tcp://` (RFC 6587) or `tls://` (RFC 5425, the receiver\'s certificate checked against `ca` or the system roots). Clear text to a non-loopback host is refused in production.'),
      ca: z.string().optional().describe('`tls://` only: PEM file of the CA certificates that may sign the receiver\'s certificate (default: Node\'s built-in roots).'),
      appName: z.string().regex(/^[!-~]{1,48}$/).default('gatehouse'),
      facility: z.number().int().min(0).max(23).default(13).describe('Syslog facility (13: log audit).'),
    }).strict().refine((s) => s.ca === undefined || s.url.startsWith('tls:'), { message: 'only read with a tls:// url', path: ['ca'] }).optional(),
    otlp: z.object({
      url: z.url().describe('OTLP/HTTP logs endpoint, e.g. `http://collector:4318/v1/logs`.'),
      headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers (e.g. an API key).'),
    }).strict().optional(),
  }).strict().default({}),
}).strict();

export type AuditConfig = z.infer<typeof auditSchema>;
