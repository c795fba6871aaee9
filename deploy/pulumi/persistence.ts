/**
 * The chart's `persistence` values from the stack's config: a data volume that outlives the pod
 * (docs/deployment.md, "Persistent data"). Off unless `persistence` is true; the other keys
 * refine it and are refused without it, so that a size or a claim is never silently unused.
 */
import type * as pulumi from '@pulumi/pulumi';
import { chartRule, checkChartValue, existingClaimAllowed } from './chart-rules.ts';
import { refuse } from './config-error.ts';

/** What `persistence: true` asks of the chart; an absent key leaves the chart's default. */
export interface Persistence {
  size?: string;
  storageClassName?: string;
  accessMode?: string;
  existingClaim?: string;
}

const KEYS = { persistenceSize: 'size', persistenceStorageClass: 'storageClassName', persistenceAccessMode: 'accessMode', persistenceExistingClaim: 'existingClaim' } as const;

/** Reads `persistence` and its keys; undefined when off. `replicas` and `maxReplicas` are the read ones. */
export function readPersistence(config: pulumi.Config, replicas: number, maxReplicas: number | undefined): Persistence | undefined {
  const enabled = config.getBoolean('persistence') ?? false;
  const given = Object.keys(KEYS).filter((key) => config.get(key) !== undefined);
  if (!enabled) {
    if (given.length > 0) refuse(config, given[0]!, `is set but ${config.name}:persistence is not true: the data directory would be the pod's emptyDir`);
    return undefined;
  }
  const persistence: Persistence = {};
  const size = config.get('persistenceSize');
  if (size !== undefined) {
    checkChartValue(config, 'persistenceSize', 'persistence.size', size);
    persistence.size = size;
  }
  const storageClassName = config.get('persistenceStorageClass');
  if (storageClassName !== undefined) {
    checkChartValue(config, 'persistenceStorageClass', 'persistence.storageClassName', storageClassName);
    persistence.storageClassName = storageClassName;
  }
  const accessMode = config.get('persistenceAccessMode');
  if (accessMode !== undefined) {
    // The chart takes a list; one mode is all a pod's own volume needs.
    const modes = chartRule('persistence.accessModes').items?.enum ?? [];
    if (!modes.includes(accessMode)) refuse(config, 'persistenceAccessMode', `is ${JSON.stringify(accessMode)}: the chart accepts only ${modes.join(', ')} (a spool or a SQLite file is one pod's)`);
    persistence.accessMode = accessMode;
  }
  const existingClaim = config.get('persistenceExistingClaim');
  if (existingClaim !== undefined) {
    checkChartValue(config, 'persistenceExistingClaim', 'persistence.existingClaim', existingClaim);
    if (!existingClaimAllowed(replicas, maxReplicas !== undefined)) {
      const shown = maxReplicas === undefined ? `replicas is ${replicas}` : `replicas ${replicas}, maxReplicas ${maxReplicas}`;
      refuse(config, 'persistenceExistingClaim', `is one volume for one instance (${shown}): two pods must never share an audit spool or a store; leave it unset for a claim per pod`);
    }
    // The chart makes a claim from size, class and modes only when it makes one per pod: with a
    // claim of the operator's they would be silently unused (the claim has its own).
    for (const key of ['persistenceSize', 'persistenceStorageClass', 'persistenceAccessMode'] as const) {
      if (config.get(key) !== undefined) refuse(config, key, `is set with ${config.name}:persistenceExistingClaim, whose claim has its own size, class and access mode: it would go unused; leave it unset`);
    }
    persistence.existingClaim = existingClaim;
  }
  return persistence;
}
