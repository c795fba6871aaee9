/**
 * Refuses every query of a closed store with ERR_STORE_UNAVAILABLE. The guarded driver
 * (guarded-dialect.ts) does the same, but once a used store is closed Kysely's own runtime
 * driver answers first with a plain "driver has already been destroyed"; a plugin's
 * `transformQuery` runs before any connection is asked for, so callers always see the
 * store's stable code.
 */
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { GatehouseError } from '../core/errors.ts';

export function closedStorePlugin(isClosed: () => boolean): KyselyPlugin {
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      if (isClosed()) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'store is closed' });
      return args.node;
    },
    transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      return Promise.resolve(args.result);
    },
  };
}
