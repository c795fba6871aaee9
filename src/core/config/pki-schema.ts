/**
 * Schema of the certificate authority's configuration (`pki` key).
 * Lifetimes are bounded here so that a typo cannot mint year-long workload certificates.
 */
import { z } from 'zod';

const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

export const pkiSchema = z.object({
  enabled: z.boolean().default(true).describe('Run the built-in certificate authority (issuance API, CRL, mTLS material).'),
  trustDomain: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,254}$/, 'lower-case letters, digits, dot, dash, underscore').default('gatehouse.internal').describe('SPIFFE trust domain: identities are spiffe://<trustDomain>/<kind>/<name>.'),
  kinds: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/)).min(1).default(['svc', 'gateway', 'sidecar']).describe('Workload kinds accepted in SPIFFE IDs.'),
  key: z.string().min(32).optional().describe('Master key (≥ 32 characters, high entropy) that encrypts the CA keys at rest. Prefer the GATEHOUSE_PKI_KEY environment variable. Omitted in development: a key file is generated in the data directory (refused in production).'),
  keyAlgorithm: z.enum(['ECDSA-P256', 'ECDSA-P384']).default('ECDSA-P256').describe('Key type of the root and intermediate CA made by `gatehouse ca init`. Changed later with `gatehouse ca rotate-root --key-type`; this setting does not change an existing CA (each CA key is used by the type its certificate names).'),
  rootLifetimeDays: seconds(1, 36500).default(3650).describe('Validity of the root CA certificate, in days.'),
  intermediateLifetimeDays: seconds(1, 3650).default(365).describe('Validity of the intermediate CA certificate, in days; must be shorter than the root\'s.'),
  intermediateWarningDays: seconds(1, 3650).default(30).describe('When the issuing intermediate CA has fewer days left than this, each instance logs a warning and reports the `pki` dependency as degraded in `/readyz`: run `gatehouse ca rotate-intermediate`.'),
  rootWarningDays: seconds(1, 36500).default(90).describe('When the root CA has fewer days left than this, each instance logs a warning and reports the `pki` dependency as degraded in `/readyz`: rotate the root (`gatehouse ca rotate-root`, then `--activate`; docs/pki.md, "Root rotation"). Every relying party must trust the new root before it is activated, so warn early.'),
  rootRotationMinWaitSeconds: seconds(0, 30 * 86400).default(3600).describe('`gatehouse ca rotate-root --activate` is refused until the prepared root has been published this long (`--force` overrides): workloads and instances fetch the trust every 30 s, but relying parties outside Gatehouse (static bundles, meshes) need to be handed the new root first.'),
  leafLifetimeSeconds: seconds(300, 30 * 86400).default(86400).describe('Default validity of issued workload certificates (24 h).'),
  maxLeafLifetimeSeconds: seconds(300, 30 * 86400).default(7 * 86400).describe('Longest validity a caller may request.'),
  backdateSeconds: seconds(0, 600).default(60).describe('notBefore is set this far in the past to tolerate clock skew between hosts.'),
  crl: z.object({
    path: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/).default('/.well-known/gatehouse/crl').describe('Path (on the public URL) of the CRLs: `<path>/<intermediate key id>` serves each intermediate\'s CRL and is written into the certificates it issues as their CRL distribution point; `<path>` itself serves certificates issued before intermediates had their own.'),
    lifetimeSeconds: seconds(120, 7 * 86400).default(900).describe('nextUpdate of each CRL; it is regenerated well before.'),
    refreshIntervalSeconds: seconds(1, 60).default(30).describe('How often each instance reads the shared CRL from the store (revocations reach every instance within this time).'),
  }).strict().default({ path: '/.well-known/gatehouse/crl', lifetimeSeconds: 900, refreshIntervalSeconds: 30 }),
  apiPath: z.string().regex(/^\/[A-Za-z0-9._~\/-]*[^\/]$/).default('/.well-known/gatehouse/pki').describe('Path prefix of the issuance API (issue, renew, bundle).'),
  bootstrapTokenTtlSeconds: seconds(60, 30 * 86400).default(3600).describe('Default lifetime of one-time bootstrap tokens.'),
}).strict().refine((v) => v.leafLifetimeSeconds <= v.maxLeafLifetimeSeconds, { message: 'leafLifetimeSeconds must not exceed maxLeafLifetimeSeconds', path: ['leafLifetimeSeconds'] })
  .refine((v) => v.intermediateLifetimeDays < v.rootLifetimeDays, { message: 'the intermediate must expire before the root', path: ['intermediateLifetimeDays'] });

export type PkiConfig = z.infer<typeof pkiSchema>;
export type PkiConfigInput = z.input<typeof pkiSchema>;
