/**
 * Reads policy sets from a directory: `<set>.cedar`, with an optional schema next to it
 * (`<set>.cedarschema`, Cedar's schema syntax, or `<set>.cedarschema.json`).
 *
 * This folder is the only part of src/policy that touches the file system; the engine
 * itself takes text.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import { directoryFingerprint } from '../../core/watch/fingerprint.ts';
import { watchPath } from '../../core/watch/path-watcher.ts';
import type { PolicyEngine, ReloadReport } from '../engine.ts';
import type { PolicySetSource } from '../types.ts';

const MAX_FILE_BYTES = 4 * 1024 * 1024;
const SET_FILE = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})\.cedar$/;
/** Every file a read of the directory may use: the sets and their schemas. */
const READ_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.(?:cedar|cedarschema|cedarschema\.json)$/;

async function readBounded(file: string): Promise<string> {
  const s = await stat(file);
  if (s.size > MAX_FILE_BYTES) throw new GatehouseError('ERR_POLICY_INVALID', { detail: `${file} is larger than ${MAX_FILE_BYTES} bytes` });
  return readFile(file, 'utf8');
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readBounded(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Every policy set in `dir`, by name. A missing directory is an empty collection (every
 * `access: policy` route is then denied), not an error.
 * @throws GatehouseError ERR_POLICY_INVALID when a schema file is not valid JSON or a file is too large.
 */
export async function readPolicyDirectory(dir: string): Promise<Record<string, PolicySetSource>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const out: Record<string, PolicySetSource> = {};
  for (const file of names.sort()) {
    const m = SET_FILE.exec(file);
    if (!m) continue;
    const set = m[1]!;
    const policies = await readBounded(join(dir, file));
    let schema: PolicySetSource['schema'] = await readOptional(join(dir, `${set}.cedarschema`));
    const jsonSchema = await readOptional(join(dir, `${set}.cedarschema.json`));
    if (jsonSchema !== undefined) {
      try {
        schema = JSON.parse(jsonSchema) as Record<string, unknown>;
      } catch (cause) {
        throw new GatehouseError('ERR_POLICY_INVALID', { detail: `${set}.cedarschema.json is not valid JSON`, cause });
      }
    }
    out[set] = { policies, origin: file, ...(schema === undefined ? {} : { schema }) };
  }
  return out;
}

const isReadFile = (name: string) => READ_FILE.test(name);

/**
 * Per engine: the newest reload started, the newest one applied, and the directory that one
 * read with its fingerprint (taken before the read, so a change during the read shows as one).
 */
const reloads = new WeakMap<PolicyEngine, { started: number; applied: number; seen?: { dir: string; fingerprint: string } }>();

/** What a reload did; `superseded` when a newer reload of the same engine was applied first. */
export type DirectoryReloadReport = ReloadReport & { superseded?: true };

/**
 * Reads `dir` and applies it to `engine` with validate-then-swap per set.
 *
 * Reloads of one engine may overlap (the directory watcher and a config reload each start
 * one). The newest one started wins: a read that started earlier but finishes after a newer
 * one was applied is dropped, since it may hold files as they were before the change that
 * started the newer read (a `forbid` just added would otherwise be lost).
 */
export async function reloadPolicyDirectory(engine: PolicyEngine, dir: string): Promise<DirectoryReloadReport> {
  let state = reloads.get(engine);
  if (state === undefined) reloads.set(engine, state = { started: 0, applied: 0 });
  const generation = ++state.started;
  const fingerprint = await directoryFingerprint(dir, isReadFile);
  const sources = await readPolicyDirectory(dir);
  if (generation < state.applied) return { loaded: [], unchanged: [], removed: [], failed: {}, superseded: true };
  state.applied = generation;
  state.seen = { dir, fingerprint };
  return engine.replaceAll(sources);
}

export interface PolicyWatcher {
  /** Settles once the directory is watched and its current content known. */
  readonly ready: Promise<void>;
  close(): void;
}

/**
 * Reloads the directory whenever a policy or schema file in it changes, however the
 * directory was updated (a file written or renamed in, a ConfigMap volume's `..data` swap,
 * the directory itself replaced or created after start; see core/watch/path-watcher.ts).
 * `debounceMs` after the last event, or at the next `pollMs` poll when no event could reach
 * the watch. A reload that fails to read leaves every set as it was.
 */
export function watchPolicyDirectory(
  engine: PolicyEngine,
  dir: string,
  options: { logger?: Logger; debounceMs?: number; pollMs?: number; onReload?: (report: ReloadReport) => void } = {},
): PolicyWatcher {
  const seen = reloads.get(engine)?.seen;
  return watchPath(dir, {
    fingerprint: () => directoryFingerprint(dir, isReadFile),
    ...(seen?.dir === dir ? { initial: seen.fingerprint } : {}),
    debounceMs: options.debounceMs ?? 200,
    pollMs: options.pollMs ?? 5000,
    onChange: async () => {
      try {
        const report = await reloadPolicyDirectory(engine, dir);
        if (report.superseded) options.logger?.info({ dir }, 'policy directory read dropped; a newer reload was applied first');
        else options.logger?.info({ dir, ...report }, 'policy directory reloaded');
        options.onReload?.(report);
      } catch (err) {
        options.logger?.error({ err, dir }, 'policy directory could not be read; policies unchanged');
      }
    },
    onError: (err) => options.logger?.error({ err, dir }, 'policy directory watch failed; the poll still looks at it'),
  });
}
