/**
 * The values handed to the chart: plain data only. Every secret is the name and key of a
 * Kubernetes Secret the program creates (secrets.ts), which is how the chart takes them.
 */
import type { Settings } from './settings.ts';

/** The Secrets the program creates, and the keys in them the chart reads. */
export interface SecretNames {
  /** pki-key, key-encryption-secret, audit-signing-key.jwk (the chart's `secrets` keys). */
  shared: string;
  /** kubernetes.io/tls: tls.crt, tls.key. */
  tls: string;
  /** store-password, redis-password, nats-password: those the URLs have. */
  passwords: string;
  /** ca.crt, when `caCert` is set. */
  ca: string;
  /** One key per `secretEnv` variable, named like it. */
  env: string;
}

export const PASSWORD_KEYS = { store: 'store-password', redis: 'redis-password', nats: 'nats-password' } as const;

/** Where Gatehouse keeps its embedded SQLite store: the chart's dataDir (an emptyDir, or the persistent volume). */
export const EMBEDDED_STORE_URL = 'sqlite:/data/gatehouse/gatehouse.db';

export function secretNames(release: string): SecretNames {
  return { shared: `${release}-secrets`, tls: `${release}-tls`, passwords: `${release}-passwords`, ca: `${release}-ca`, env: `${release}-env` };
}

function passwordRef(names: SecretNames, link: { password: unknown } | undefined, key: string) {
  // An empty name: no password variable, no userinfo password in the URL (the chart's rule).
  return { name: link?.password === undefined ? '' : names.passwords, key };
}

/** The chart's `persistence`: only the keys the stack set, the chart's defaults for the rest. */
function persistenceValues(persistence: Settings['persistence']): Record<string, unknown> {
  if (persistence === undefined) return { enabled: false };
  const { size, storageClassName, accessMode, existingClaim } = persistence;
  return {
    enabled: true,
    ...(size === undefined ? {} : { size }),
    ...(storageClassName === undefined ? {} : { storageClassName }),
    ...(accessMode === undefined ? {} : { accessModes: [accessMode] }),
    ...(existingClaim === undefined ? {} : { existingClaim }),
  };
}

/** The chart's values for `settings`: `settings.values` with the program's own keys over them. */
export function chartValues(settings: Settings, names: SecretNames): Record<string, unknown> {
  const { store, redis, nats } = settings;
  const extraConfig = (settings.values['config'] ?? {}) as Record<string, unknown>;
  const caSecret = { name: settings.caCert === undefined ? '' : names.ca, key: 'ca.crt' };
  return {
    ...settings.values,
    // The release name is the chart's fullname ("gatehouse" contains the chart name; otherwise
    // <release>-gatehouse): pinned so that object names do not depend on that helm rule.
    fullnameOverride: settings.release,
    publicUrl: settings.publicUrl,
    replicaCount: settings.replicas,
    autoscaling: settings.maxReplicas === undefined
      ? { enabled: false }
      : { enabled: true, minReplicas: settings.replicas, maxReplicas: settings.maxReplicas },
    // Helm merges a map with the chart's defaults: only the keys set here replace them.
    ...(Object.keys(settings.image).length > 0 ? { image: settings.image } : {}),
    secrets: { existingSecret: names.shared },
    tls: { secretName: 'secretName' in settings.tls ? settings.tls.secretName : names.tls },
    store: store === undefined
      // The chart always writes a PostgreSQL URL; the embedded store replaces it below, and no
      // password variable is wired to a Secret that does not exist.
      ? { passwordSecret: { name: '', key: PASSWORD_KEYS.store } }
      : {
        host: store.host,
        port: store.port,
        database: store.database,
        user: store.user,
        sslmode: store.sslmode,
        passwordSecret: passwordRef(names, store, PASSWORD_KEYS.store),
        caSecret,
      },
    // An empty host: the chart writes no ratelimit / bus URL, Gatehouse keeps them in process.
    redis: redis === undefined
      ? { host: '' }
      : { host: redis.host, port: redis.port, db: redis.db, username: redis.user, passwordSecret: passwordRef(names, redis, PASSWORD_KEYS.redis) },
    nats: nats === undefined
      ? { host: '' }
      : { host: nats.host, port: nats.port, user: nats.user, passwordSecret: passwordRef(names, nats, PASSWORD_KEYS.nats) },
    persistence: persistenceValues(settings.persistence),
    // Redis and NATS are checked against NODE_EXTRA_CA_CERTS (the store gets its own sslrootcert).
    extraCaCerts: { secretName: settings.caCert === undefined ? '' : names.ca, key: 'ca.crt' },
    ...(store === undefined ? { config: { ...extraConfig, store: { url: EMBEDDED_STORE_URL } } } : {}),
    ...(settings.secretEnv === undefined ? {} : {
      extraEnv: [
        ...((settings.values['extraEnv'] ?? []) as unknown[]),
        ...settings.secretEnv.names.map((name) => ({ name, valueFrom: { secretKeyRef: { name: names.env, key: name } } })),
      ],
    }),
  };
}
