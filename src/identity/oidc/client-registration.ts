/**
 * Binds what the provider stores for a client (grants, codes, refresh and opaque access
 * tokens, device codes …) to the client's registration, not only to its id. A removed client's
 * id can be registered again, by another administrator for another app; a public client is
 * nothing but its id, so whoever kept a refresh token or code of the removed client would use
 * it as the new one. Nothing is looked up by client at removal (the store finds records by grant
 * only): each record is stamped at save with the registration it was issued under (the client's
 * `createdAt`), and a record of another registration, or of a client that is gone, reads as not
 * found (`invalid_grant` / `invalid_token`) and its grant is deleted.
 *
 * Records saved before the stamp existed carry none: they belong to the current registration
 * when they were issued (`iat`, seconds) no earlier than the second it was made.
 */
import type { IdentityClientsRepo } from '../../store/repos/identity-clients-repo.ts';

type Payload = Record<string, unknown>;

const FIELD = 'gh_client_registered_at';

/** `payload` with the registration of its client, when it names a client that exists. */
export async function stampRegistration(clients: IdentityClientsRepo, payload: Payload): Promise<Payload> {
  if (typeof payload.clientId !== 'string') return payload;
  const client = await clients.find(payload.clientId);
  return client ? { ...payload, [FIELD]: client.createdAt } : payload;
}

/** False when `payload` was issued to a client that is gone or was registered again since. */
export async function ofCurrentRegistration(clients: IdentityClientsRepo, payload: Payload): Promise<boolean> {
  if (typeof payload.clientId !== 'string') return true;
  const client = await clients.find(payload.clientId);
  if (!client) return false;
  const stamp = payload[FIELD];
  if (typeof stamp === 'number') return stamp === client.createdAt;
  return typeof payload.iat !== 'number' || payload.iat >= Math.floor(client.createdAt / 1000);
}
