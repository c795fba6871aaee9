/** The saga's calls to the other services, over HTTP through Gatehouse. */
import { HttpKeyService } from '../crypto/http-key-service.ts';
import { MailError } from '../shared/errors.ts';
import type { ServiceCaller } from '../shared/service-caller.ts';
import type { SagaPorts } from './send-saga.ts';

export const LIFETIME_PATH = '/svc/lifetime';
export const NOTIFICATION_PATH = '/svc/notification';
export const MESSAGES_INTERNAL_PATH = '/svc/messages';

function expect(status: number, ok: number[], what: string): void {
  if (!ok.includes(status)) throw new MailError('MAIL_DEPENDENCY_FAILED', { detail: `${what}: status ${status}` });
}

export function httpSagaPorts(caller: ServiceCaller): SagaPorts & { consumed(id: string): Promise<void>; shredNow(id: string): Promise<boolean> } {
  return {
    keys: new HttpKeyService(caller),
    async schedule(messageId, expiresAt) {
      const r = await caller.call('PUT', `${LIFETIME_PATH}/schedules/${messageId}`, { expiresAt: new Date(expiresAt).toISOString() });
      expect(r.status, [204], 'schedule expiry');
    },
    async unschedule(messageId) {
      const r = await caller.call('DELETE', `${LIFETIME_PATH}/schedules/${messageId}`);
      expect(r.status, [204], 'cancel expiry');
    },
    async notify(n) {
      const r = await caller.call('POST', `${NOTIFICATION_PATH}/notifications`, { ...n, expiresAt: new Date(n.expiresAt).toISOString() });
      expect(r.status, [202], 'notify');
    },
    async cancelNotification(messageId) {
      const r = await caller.call('DELETE', `${NOTIFICATION_PATH}/notifications/${messageId}`);
      expect(r.status, [204], 'cancel notification');
    },
    async consumed(messageId) {
      const r = await caller.call('POST', `${LIFETIME_PATH}/schedules/${messageId}/expire-now`);
      expect(r.status, [202, 204], 'expire now');
    },
    /** Same call as `consumed`; true when the message is gone now (204), false when the lifetime service retries (202). */
    async shredNow(messageId) {
      const r = await caller.call('POST', `${LIFETIME_PATH}/schedules/${messageId}/expire-now`);
      expect(r.status, [202, 204], 'expire now');
      return r.status === 204;
    },
  };
}
