/**
 * Gatehouse on Kubernetes: a namespace, the Secrets the chart references, and the project's
 * own Helm chart (deploy/helm/gatehouse) with plain values.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { chartPath } from './chart-rules.ts';
import { chartValues, secretNames } from './chart-values.ts';
import { createSecrets } from './secrets.ts';
import type { Settings } from './settings.ts';

export interface Deployed {
  namespace: k8s.core.v1.Namespace;
  secrets: k8s.core.v1.Secret[];
  chart: k8s.helm.v4.Chart;
}

export function deployGatehouse(settings: Settings, opts: pulumi.ComponentResourceOptions = {}): Deployed {
  if (settings.store === undefined && settings.persistence === undefined) {
    pulumi.log.warn('no storeUrl and no persistence: one instance on the embedded SQLite store in the pod\'s emptyDir. Users, clients, the CA, the signing keys and the audit spool are lost when the pod is replaced (a rollout, a drain, an eviction); set persistence to true (a volume that outlives the pod) or storeUrl (PostgreSQL) for anything but a trial.');
  }
  // With persistence the claims live in this namespace (the StatefulSet keeps them, Retain), and
  // deleting a namespace deletes every claim in it: the embedded store, the CA, the keys, the
  // spools. So `pulumi destroy`, or a changed `namespace`, leaves it (as `helm uninstall` leaves
  // the claims); deleting the data is a deliberate `kubectl delete namespace`.
  const namespace = new k8s.core.v1.Namespace(settings.namespace, {
    metadata: { name: settings.namespace, labels: { 'app.kubernetes.io/part-of': 'gatehouse' } },
  }, settings.persistence === undefined ? opts : { ...opts, retainOnDelete: true });
  const names = secretNames(settings.release);
  const secrets = createSecrets(settings, names, namespace.metadata.name, { ...opts, parent: namespace });
  // helm.v4.Chart rather than helm.v3.Release: the provider renders the chart (helm template,
  // with the chart's values.schema.json and its `fail` rules) during preview, so the chart's
  // refusals stop `pulumi up` before anything is created; each object becomes a Pulumi
  // resource, so a preview shows what changes per object and Pulumi waits for the Deployment to
  // be ready; and no Helm release Secret holding the values is kept in the cluster beside
  // Pulumi's state. What it gives up (helm list / helm rollback, chart hooks) the chart does
  // not use: it has no hooks.
  const chart = new k8s.helm.v4.Chart(settings.release, {
    chart: chartPath,
    name: settings.release,
    namespace: namespace.metadata.name,
    values: chartValues(settings, names),
  }, { ...opts, dependsOn: [namespace, ...secrets] });
  return { namespace, secrets, chart };
}
