/** Audit drafts for tests: realistic access events with unique ids. */
import { randomUUIDv7 } from 'node:crypto';
import { draftFromEnvelope } from '../../../src/audit/map-event.ts';
import type { AuditDraft } from '../../../src/audit/record.ts';
import { createRedactor } from '../../../src/audit/redact.ts';

const redactor = createRedactor();

export function accessDraft(i: number, overrides: Record<string, unknown> = {}): AuditDraft {
  return draftFromEnvelope({
    id: randomUUIDv7(), time: new Date().toISOString(), instance: 'test-1', name: 'gateway.request',
    payload: {
      requestId: `req-${i}`, traceId: '0af7651916cd43dd8448eb211c80319c', routeId: 'inbox', method: 'GET', path: `/inbox/${i}`,
      status: 200, durationMs: 1.5, clientAddress: '203.0.113.7', subject: `user-${i % 10}`, stage: 'forward', bytesIn: 0, bytesOut: 120,
      ...overrides,
    },
  }, redactor);
}
