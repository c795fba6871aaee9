/**
 * Settings a reload validates but cannot apply to running listeners or an open store:
 * they are reported in the log so an operator knows a restart is needed.
 */
import type { Config } from '../core/config/schema.ts';

export function restartOnlyChanges(a: Config, b: Config): string[] {
  const keys: string[] = [];
  if (JSON.stringify(a.listeners) !== JSON.stringify({ ...b.listeners, https: { ...b.listeners.https, tls: a.listeners.https.tls } })) keys.push('listeners');
  if (a.dataDir !== b.dataDir) keys.push('dataDir');
  if (JSON.stringify(a.store) !== JSON.stringify(b.store)) keys.push('store');
  if (JSON.stringify(a.limits) !== JSON.stringify(b.limits)) keys.push('limits (listener limits)');
  return keys;
}
