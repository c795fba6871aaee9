/**
 * A real gateway composed with the audit log (SQLite, no fsync: these tests kill nothing) in
 * front of one echo upstream on a public route `/app`, with the store opened beside it: what the
 * request-path tests that read each answer's audit record and access line share.
 */
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { queryAudit, viewRecord, type AuditRecordView } from '../../src/audit/query.ts';
import type { AuditExtension } from '../../src/audit/extension.ts';
import { openStoreFromConfig } from '../../src/store/open-from-config.ts';
import type { Store } from '../../src/store/types.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from './gateway.ts';

export interface AuditedGateway {
  gw: TestGateway;
  app: TestUpstream;
  store: Store;
  /** The public HTTPS listener's port. */
  port: number;
  /** The request's audit records, after the writer flushed what it holds. */
  recordsOf(requestId: string): Promise<AuditRecordView[]>;
  /** The request's access log lines. */
  accessLines(requestId: string): Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startAuditedGateway(extra: ConfigInput = {}): Promise<AuditedGateway> {
  const app = await startUpstream();
  const gw = await startGateway({
    audit: { fsync: false },
    upstreams: { app: { url: app.url } },
    routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' }],
    ...extra,
  }, { compose: true });
  const store = await openStoreFromConfig(gw.gateway.config);
  return {
    gw, app, store,
    port: gw.gateway.addresses().https.port,
    async recordsOf(requestId) {
      await (gw.gateway.extensions.find((e) => e.name === 'audit') as AuditExtension).writer!.flush();
      const out: AuditRecordView[] = [];
      for await (const r of queryAudit(store, { requestId })) out.push(viewRecord(r));
      return out;
    },
    accessLines: (requestId) => gw.logs.lines.filter((l) => l.type === 'access' && l.requestId === requestId),
    async close() {
      await store.close();
      // An upstream exchange still waiting for a body (a broken upload) would hold the gateway's stop up to the route's totalMs.
      app.server.closeAllConnections();
      await gw.close();
      await app.close();
    },
  };
}
