/**
 * What every stateful `gatehouse` command stands on: the validated configuration, a
 * logger on stderr, the store (migrated) and the event bus — opened the same way a running
 * instance opens them, so that a change made here (user disabled, token revoked, keys
 * rotated) is published on the bus that running instances share. Everything is closed
 * again before the command returns, also when it fails.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { loadConfigFile, parseConfig, type LoadedConfig } from '../core/config/load.ts';
import { compileCheck } from '../core/config/compile-check.ts';
import { prepareDataDirectory } from '../core/config/data-directory.ts';
import type { Config } from '../core/config/schema.ts';
import { createLogger } from '../observability/logger.ts';
import { openStoreFromConfig } from '../store/open-from-config.ts';
import { GatehouseError } from '../core/errors.ts';
import type { Store } from '../store/types.ts';
import { createEventBus } from '../bus/create-event-bus.ts';
import type { EventBus } from '../bus/types.ts';
import type { EventName } from '../core/events.ts';
import type { IdentityEventSink, IdentityProvider } from '../identity/identity-provider.ts';
import type { PkiCommandContext } from '../pki/commands/context.ts';
import { withAdminRecord, type AdminAction } from './admin-record.ts';

/** The file `gatehouse` reads when no `--config` is given, when it exists in the working directory. */
export const DEFAULT_CONFIG_FILE = 'gatehouse.yaml';

/**
 * For commands that only read what a running Gatehouse wrote (audit query, verify and export,
 * alerts, blocks, approvals): the embedded store must already exist. Opened as usual it would
 * be created empty in the working directory — run from the wrong directory or with the wrong
 * `--config`, `audit verify` then verified "0 records" of a log made a moment before, and
 * exited 0.
 */
export const READS_EXISTING_STORE = { existingStore: true } as const;

/** Options every stateful command accepts. */
export interface CliGlobalOptions {
  /** `--config FILE`. */
  config?: string;
  /** `--verbose`: debug logs on stderr. */
  verbose?: boolean;
}

export interface CliContext {
  readonly config: Config;
  /** Absolute path of the configuration file, or undefined for built-in defaults. */
  readonly configFile: string | undefined;
  readonly logger: Logger;
  readonly store: Store;
  readonly bus: EventBus;
  /** The identity provider over this store and bus (built on first use). */
  identity(): Promise<IdentityProvider>;
  /** The PKI command context (resolves the master key on first use). */
  pki(): Promise<PkiCommandContext>;
}

/** `--config` if given, else `./gatehouse.yaml` when it exists, else undefined (built-in defaults). */
export function resolveConfigFile(option: string | undefined, cwd: string = process.cwd()): string | undefined {
  if (option !== undefined) return resolve(cwd, option);
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? fallback : undefined;
}

/**
 * Loads and validates the configuration the way `gatehouse config validate` does (schema,
 * route compilation, production refusals). Throws ConfigError listing every problem.
 */
export async function loadCliConfig(option: string | undefined): Promise<LoadedConfig> {
  const file = resolveConfigFile(option);
  if (file === undefined) return parseConfig({}, { source: '(defaults)', crossCheck: compileCheck });
  return loadConfigFile(file, { crossCheck: compileCheck });
}

/** Logs go to stderr (stdout is for the command's output), synchronously so nothing is lost at exit. */
function cliLogger(verbose: boolean): Logger {
  return createLogger({ level: verbose ? 'debug' : 'warn', instanceId: cliInstanceId(), destination: pino.destination({ fd: 2, sync: true }) });
}

/** Distinct from the gateway's own id, so events from the CLI are never mistaken for an instance's. */
function cliInstanceId(): string {
  return `cli-${hostname().slice(0, 40)}-${process.pid}`;
}

/**
 * Opens configuration, store and bus, runs `fn`, and closes everything (identity provider,
 * bus — after flushing what was published — and store) whatever `fn` did.
 *
 * A command that changes state passes `admin`: its run is then recorded in the audit chain,
 * success or failure, with the OS user as actor (admin-record.ts). Read-only commands pass
 * nothing and record nothing.
 *
 * @example
 *   await withCliContext({ config: 'gatehouse.yaml' }, async (ctx) => userList(await ctx.identity()));
 *   await withCliContext(o, async (ctx) => userDisable(await ctx.identity(), ref), { action: 'user.disable', resource: ref });
 */
export async function withCliContext<T>(options: CliGlobalOptions, fn: (ctx: CliContext) => Promise<T>, admin?: AdminAction<T>, opening: { existingStore?: boolean } = {}): Promise<T> {
  const loaded = await loadCliConfig(options.config);
  for (const w of loaded.fileWarnings ?? []) process.stderr.write(`warning: ${w}\n`);
  const config = loaded.config;
  if (opening.existingStore === true && config.store.url === undefined) {
    const file = join(resolve(config.dataDir), 'gatehouse.db');
    if (!existsSync(file)) {
      throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: `no Gatehouse store at ${file} (${resolveConfigFile(options.config) === undefined ? `built-in defaults: no ./${DEFAULT_CONFIG_FILE} here` : `dataDir of ${loaded.source}`}); run this where Gatehouse keeps its data, or pass --config` });
    }
  }
  const logger = cliLogger(options.verbose === true);
  // The embedded store, generated development keys and the KEK live here (as for `start`).
  const dataDir = await prepareDataDirectory(config.dataDir, loaded.source ?? '(defaults)');
  for (const w of dataDir.warnings) process.stderr.write(`warning: ${w}\n`);
  const store = await openStoreFromConfig(config, logger);
  let bus: EventBus | undefined;
  let idp: Promise<IdentityProvider> | undefined;
  let pki: Promise<PkiCommandContext> | undefined;
  try {
    await store.migrate();
    const openedBus = await createEventBus(config.bus.url, {
      instanceId: cliInstanceId(), logger: logger.child({ component: 'bus' }),
      stream: config.bus.stream, subjectPrefix: config.bus.subjectPrefix, maxAgeMs: config.bus.maxAgeMs, maxBuffer: config.bus.maxBuffer,
      maxBufferBytes: config.bus.maxBufferBytes, handlerTimeoutMs: config.bus.handlerTimeoutMs, maxEventBytes: config.bus.maxEventBytes,
    });
    bus = openedBus;
    const ctx: CliContext = {
      config, configFile: loaded.source, logger, store, bus: openedBus,
      identity() {
        idp ??= import('../identity/identity-provider.ts').then(({ createIdentityProvider }) => createIdentityProvider({
          config, store, logger, publicUrl: config.publicUrl!,
          // Publish only: a command lives for one change and needs no key reloads, and a
          // subscription would race its own `keys rotate` event against closing the store.
          // The IdP's plain event names are the identity rows of the typed event table.
          bus: { publish: (name, payload) => openedBus.publish(name as EventName, payload as never) } satisfies IdentityEventSink,
        }));
        return idp;
      },
      pki() {
        pki ??= import('../pki/commands/context.ts').then(({ openPkiCommandContext }) => openPkiCommandContext({
          store, config, logger,
          // On the bus like a running instance's (and logged): running instances refresh their
          // CA and trust at once on a rotation or revocation (pki/ca-change-subscription.ts).
          // None carries a secret.
          onEvent: (event) => {
            logger.info({ event }, event.type);
            const { type, ...payload } = event;
            openedBus.publish(type, payload as never);
          },
        }));
        return pki;
      },
    };
    if (admin === undefined) return await fn(ctx);
    return await withAdminRecord({ config, store, logger, instance: cliInstanceId() }, admin, () => fn(ctx));
  } finally {
    if (idp) await idp.then((p) => p.close(), () => undefined);
    if (bus) {
      // A change that never reached the bus would leave running instances with stale caches: say so.
      await bus.flush(10_000).catch((err: unknown) => {
        logger.error({ err }, 'events were not all published to the bus');
        process.stderr.write('error: the change is saved, but its events did not all reach the bus; running instances may not have seen it (restart them or repeat the command)\n');
        process.exitCode = 1;
      });
      await bus.close().catch((err: unknown) => logger.error({ err }, 'closing the bus failed'));
    }
    await store.close().catch((err: unknown) => logger.error({ err }, 'closing the store failed'));
    logger.flush?.();
  }
}
