/**
 * The Kubernetes Secrets the chart references but never creates (docs/deployment.md, "Secrets,
 * referenced, never created"), filled from the stack's secret outputs.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { PASSWORD_KEYS } from './chart-values.ts';
import type { SecretNames } from './chart-values.ts';
import type { Settings } from './settings.ts';

function secret(name: string, namespace: pulumi.Input<string>, data: pulumi.Input<Record<string, pulumi.Input<string>>>, opts: pulumi.CustomResourceOptions, type = 'Opaque'): k8s.core.v1.Secret {
  return new k8s.core.v1.Secret(name, {
    // Named, not auto-named: the chart's values name them, and known names let the provider
    // render the chart during preview.
    metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'gatehouse', 'app.kubernetes.io/managed-by': 'pulumi' } },
    type,
    stringData: data,
  }, opts);
}

/** Creates the Secrets `chartValues` names; returns them for the chart to depend on. */
export function createSecrets(settings: Settings, names: SecretNames, namespace: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): k8s.core.v1.Secret[] {
  const created = [
    secret(names.shared, namespace, {
      'pki-key': settings.pkiKey,
      'key-encryption-secret': settings.keyEncryptionSecret,
      'audit-signing-key.jwk': settings.auditSigningKey,
    }, opts),
  ];
  if ('key' in settings.tls) {
    created.push(secret(names.tls, namespace, { 'tls.crt': settings.tls.cert, 'tls.key': settings.tls.key }, opts, 'kubernetes.io/tls'));
  }
  const passwords: Record<string, pulumi.Output<string>> = {};
  if (settings.store?.password !== undefined) passwords[PASSWORD_KEYS.store] = settings.store.password;
  if (settings.redis?.password !== undefined) passwords[PASSWORD_KEYS.redis] = settings.redis.password;
  if (settings.nats?.password !== undefined) passwords[PASSWORD_KEYS.nats] = settings.nats.password;
  if (Object.keys(passwords).length > 0) created.push(secret(names.passwords, namespace, passwords, opts));
  // Not secret (a CA certificate), but the chart mounts it from a Secret.
  if (settings.caCert !== undefined) created.push(secret(names.ca, namespace, { 'ca.crt': settings.caCert }, opts));
  if (settings.secretEnv !== undefined) created.push(secret(names.env, namespace, settings.secretEnv.values, opts));
  return created;
}
