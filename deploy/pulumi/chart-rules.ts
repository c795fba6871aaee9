/**
 * The chart's own rules, applied to what the program takes from Pulumi config so that a bad key
 * is refused before anything is created, with the key's name. The patterns, enums and bounds are
 * read from the chart's values.schema.json (not copied), so the two cannot drift; the chart
 * still validates the whole of its values when the provider renders it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as pulumi from '@pulumi/pulumi';
import { refuse } from './config-error.ts';

/** deploy/helm/gatehouse, from the repository (never a published copy). */
export const chartPath = join(import.meta.dirname, '..', 'helm', 'gatehouse');

/** The subset of JSON Schema the checks below read. */
interface Rule {
  type?: string | string[];
  pattern?: string;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  minLength?: number;
  properties?: Record<string, Rule>;
  items?: Rule;
}

const schema = JSON.parse(readFileSync(join(chartPath, 'values.schema.json'), 'utf8')) as Rule;

/** The schema rule of a values path, e.g. `store.sslmode`; throws on a path the schema lacks. */
export function chartRule(path: string): Rule {
  let rule: Rule | undefined = schema;
  for (const part of path.split('.')) rule = rule?.properties?.[part];
  if (rule === undefined) throw new Error(`values.schema.json has no ${path}`);
  return rule;
}

/**
 * Checks one value the program hands to the chart at `valuesPath` against the chart's rule,
 * refusing config key `key` (the Pulumi key it came from) when the chart would refuse it.
 * `fromSecret`: the value was taken from a secret (a connection URL), so the refusal does not
 * quote it: a user part such as `user%3Apassword` would print the password.
 */
export function checkChartValue(config: pulumi.Config, key: string, valuesPath: string, value: string | number, fromSecret = false): void {
  const rule = chartRule(valuesPath);
  const shown = fromSecret ? 'a value' : typeof value === 'string' ? JSON.stringify(value) : String(value);
  if (typeof value === 'string') {
    if (rule.minLength !== undefined && value.length < rule.minLength) refuse(config, key, `gives ${valuesPath} ${shown}: the chart needs at least ${rule.minLength} characters`);
    if (rule.maxLength !== undefined && value.length > rule.maxLength) refuse(config, key, `gives ${valuesPath} ${shown}: the chart allows at most ${rule.maxLength} characters`);
    if (rule.pattern !== undefined && !new RegExp(rule.pattern, 'u').test(value)) refuse(config, key, `gives ${valuesPath} ${shown}, which the chart refuses (pattern ${rule.pattern})`);
  } else {
    if (!Number.isInteger(value)) refuse(config, key, `gives ${valuesPath} ${shown}: the chart needs an integer`);
    if (rule.minimum !== undefined && value < rule.minimum) refuse(config, key, `gives ${valuesPath} ${shown}: the chart's minimum is ${rule.minimum}`);
    if (rule.maximum !== undefined && value > rule.maximum) refuse(config, key, `gives ${valuesPath} ${shown}: the chart's maximum is ${rule.maximum}`);
  }
  if (rule.enum !== undefined && !rule.enum.includes(value)) refuse(config, key, `gives ${valuesPath} ${shown}: the chart accepts only ${rule.enum.join(', ')}`);
}

/**
 * Whether the chart runs several instances: the condition of `gatehouse.required` in
 * templates/_helpers.tpl (an HPA scales out whatever replicaCount says). The chart then fails
 * without redis.host and nats.host; test/deploy/pulumi.test.ts holds this function to the
 * chart's own answer with the real helm.
 */
export function runsSeveralInstances(replicaCount: number, autoscaling: { enabled: boolean; maxReplicas: number }): boolean {
  return replicaCount > 1 || (autoscaling.enabled && autoscaling.maxReplicas > 1);
}

/**
 * Whether the chart accepts `persistence.existingClaim`: the condition of its `fail` in
 * `gatehouse.required` (one volume, one instance: replicaCount 1 and no autoscaler, whatever its
 * bounds). test/deploy/pulumi.test.ts holds this function to the chart's answer with the real helm.
 */
export function existingClaimAllowed(replicaCount: number, autoscalingEnabled: boolean): boolean {
  return replicaCount <= 1 && !autoscalingEnabled;
}
