/**
 * Entry point of the Pulumi program (Pulumi.yaml): reads the stack's config and deploys
 * Gatehouse through its Helm chart. docs/deployment.md, "The Pulumi program".
 */
import { runsSeveralInstances } from './chart-rules.ts';
import { deployGatehouse } from './gatehouse.ts';
import { readSettings } from './settings.ts';

const settings = readSettings();
const { namespace } = deployGatehouse(settings);

export const namespaceName = namespace.metadata.name;
export const publicUrl = settings.publicUrl;
export const shape = settings.store === undefined ? 'one instance, embedded store' : runsSeveralInstances(settings.replicas, { enabled: settings.maxReplicas !== undefined, maxReplicas: settings.maxReplicas ?? 1 }) ? 'several instances' : 'one instance on PostgreSQL';
