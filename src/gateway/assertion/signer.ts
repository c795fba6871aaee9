/**
 * Signs identity assertions: short-lived ES256 JWTs (jose) that tell an upstream who sent
 * a request and that it came through Gatehouse.
 *
 * Cached mode reuses one signed assertion per (credential, upstream, claims) until a
 * quarter of its lifetime is left, so most requests cost a Map lookup and no signature.
 * Per-request mode binds the request id, method and path and signs every time; it alone
 * carries a request's second-person approval (claim `approval`), which must never be reused.
 *
 * @example
 *   const signer = await createAssertionSigner({ issuer: 'https://gateway.example' });
 *   const jwt = await signer.sign(identity, 'mail-store');
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Logger } from 'pino';
import { IDENTITY_ASSERTION_ALG, IDENTITY_ASSERTION_TYP } from '../../sdk/contract.ts';
import type { Identity } from '../context.ts';
import { KeyRing, exportSigningKey, generateSigningKey, importSigningKey, type StoredSigningKey } from './key-ring.ts';

export interface AssertionSignerOptions {
  /** `iss` claim; the gateway's public URL. */
  issuer: string;
  ttlSeconds?: number;
  keyRotationHours?: number;
  /** Most cached assertions; 0 disables the cache. Default 10 000. */
  cacheSize?: number;
  /** Unix ms. Default Date.now. */
  clock?: () => number;
  logger?: Logger;
  /** Keys persisted earlier, so that every instance signs with and publishes the same keys. */
  keys?: { current: StoredSigningKey; next: StoredSigningKey };
  /** Called with the exportable keys after generation and every rotation, to persist them. Setting it makes private keys extractable. */
  onKeysChanged?: (keys: { current: StoredSigningKey; next: StoredSigningKey }) => void | Promise<void>;
}

/** Binding of a per-request assertion. */
export interface RequestBinding {
  requestId: string;
  method: string;
  /** Path as sent to the upstream, without query. */
  path: string;
  /** The approval this request consumed (approve stage), signed as the `approval` claim. */
  approval?: { id: string; approver: string } | undefined;
}

export interface AssertionSigner {
  readonly issuer: string;
  readonly ttlSeconds: number;
  /** A fresh cached assertion for this identity and upstream, or undefined. Synchronous. */
  cached(identity: Identity, audience: string): string | undefined;
  /** Cached mode: the cached assertion if fresh, else a new one (then cached). */
  sign(identity: Identity, audience: string): Promise<string>;
  /** Per-request mode: always a new assertion bound to the request; never cached. */
  signBound(identity: Identity, audience: string, binding: RequestBinding): Promise<string>;
  /** JWKS document (JSON text) with the current, next and still-needed retired public keys. */
  jwksJson(): string;
  /** Promotes the next key now (also runs on a timer every `keyRotationHours`). */
  rotate(): Promise<void>;
  cacheStats(): { hits: number; misses: number; size: number };
  /** Stops the rotation timer. */
  close(): void;
}

interface Cached { token: string; refreshAt: number }

function baseClaims(identity: Identity): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: identity.subject,
    kind: identity.kind,
    roles: [...identity.roles],
    amr: [...identity.amr],
    auth_method: identity.method,
  };
  if (identity.authTime !== undefined) claims.auth_time = identity.authTime;
  return claims;
}

export async function createAssertionSigner(options: AssertionSignerOptions): Promise<AssertionSigner> {
  const clock = options.clock ?? Date.now;
  const ttl = options.ttlSeconds ?? 60;
  const rotationMs = (options.keyRotationHours ?? 24) * 3600_000;
  const maxCache = options.cacheSize ?? 10_000;
  const extractable = options.onKeysChanged !== undefined;
  const log = options.logger;

  const ring = options.keys
    ? new KeyRing(await importSigningKey(options.keys.current), await importSigningKey(options.keys.next))
    : new KeyRing(await generateSigningKey(clock(), extractable), await generateSigningKey(clock(), extractable));
  const persist = async () => {
    if (!options.onKeysChanged) return;
    await options.onKeysChanged({ current: await exportSigningKey(ring.current), next: await exportSigningKey(ring.next) });
  };
  if (!options.keys) await persist();

  const cache = new Map<string, Cached>();
  const pending = new Map<string, Promise<string>>();
  let hits = 0;
  let misses = 0;

  async function signClaims(claims: Record<string, unknown>, audience: string, nowMs: number): Promise<string> {
    const iat = Math.floor(nowMs / 1000);
    const key = ring.current;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: IDENTITY_ASSERTION_ALG, typ: IDENTITY_ASSERTION_TYP, kid: key.kid })
      .setIssuer(options.issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  function cacheKey(identity: Identity, audience: string): string {
    // The claims themselves are in the key: a role change mid-session gets a new assertion at once.
    return `${audience}\n${identity.credentialId ?? ''}\n${JSON.stringify(baseClaims(identity))}`;
  }

  function cached(identity: Identity, audience: string): string | undefined {
    if (maxCache <= 0) return undefined;
    const hit = cache.get(cacheKey(identity, audience));
    if (hit !== undefined && hit.refreshAt > clock()) {
      hits++;
      return hit.token;
    }
    return undefined;
  }

  async function sign(identity: Identity, audience: string): Promise<string> {
    if (maxCache <= 0) return signClaims(baseClaims(identity), audience, clock());
    const key = cacheKey(identity, audience);
    const now = clock();
    const hit = cache.get(key);
    if (hit !== undefined && hit.refreshAt > now) {
      hits++;
      return hit.token;
    }
    misses++;
    const inFlight = pending.get(key);
    if (inFlight) return inFlight;
    const p = signClaims(baseClaims(identity), audience, now).then((token) => {
      cache.delete(key);
      if (cache.size >= maxCache) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(key, { token, refreshAt: now + ttl * 750 });
      return token;
    }).finally(() => pending.delete(key));
    pending.set(key, p);
    return p;
  }

  async function signBound(identity: Identity, audience: string, binding: RequestBinding): Promise<string> {
    const claims = baseClaims(identity);
    claims.rid = binding.requestId;
    claims.htm = binding.method;
    claims.htu = binding.path;
    if (binding.approval !== undefined) claims.approval = { id: binding.approval.id, approver: binding.approval.approver };
    return signClaims(claims, audience, clock());
  }

  async function rotate(): Promise<void> {
    const now = clock();
    // Assertions signed by the outgoing key live at most ttl seconds; keep it published that long, plus skew.
    ring.rotate(await generateSigningKey(now, extractable), now + (ttl + 60) * 1000, now);
    cache.clear();
    log?.info({ kid: ring.current.kid }, 'identity assertion signing key rotated');
    await persist();
  }

  const timer = setInterval(() => {
    rotate().catch((err: unknown) => log?.error({ err }, 'identity assertion key rotation failed; current key kept'));
  }, rotationMs);
  timer.unref();
  const pruner = setInterval(() => ring.prune(clock()), 60_000);
  pruner.unref();

  return {
    issuer: options.issuer,
    ttlSeconds: ttl,
    cached,
    sign,
    signBound,
    jwksJson: () => ring.jwksJson,
    rotate,
    cacheStats: () => ({ hits, misses, size: cache.size }),
    close() {
      clearInterval(timer);
      clearInterval(pruner);
    },
  };
}
