/**
 * Asks the lifetime service again to delete read-once messages that were read but are still
 * here. The request made right after the read is not retried by anyone when it does not reach
 * the lifetime service (it is down, Gatehouse is unreachable, or this process died between the
 * read and the request); without this the message's key and ciphertext would stay until its
 * expiry, days later. The consumed state is in the database, so a restart resumes the work.
 */
import type { Logger } from 'pino';
import type { MessageRepo } from './message-repo.ts';

export async function requestDeletionOfConsumed(repo: MessageRepo, consumed: (messageId: string) => Promise<void>, logger: Logger): Promise<void> {
  for (const id of repo.consumedIds()) {
    try {
      await consumed(id);
    } catch (err) {
      logger.warn({ err, messageId: id }, 'could not ask again for deletion of a consumed message');
    }
  }
}
