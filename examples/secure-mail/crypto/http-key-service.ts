/**
 * KeyService over HTTP: the client the messages and lifetime services use to reach the
 * key service through Gatehouse (so every key operation passes Gatehouse's policy and the
 * key service's own checks). Errors keep their codes across the hop.
 */
import { MailError, MAIL_ERRORS, type MailErrorCode } from '../shared/errors.ts';
import type { ServiceCaller } from '../shared/service-caller.ts';
import type { KeyService } from './key-service.ts';

export const KEYS_PATH = '/svc/keys';

function fail(status: number, body: unknown, what: string): never {
  const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
  if (code && code in MAIL_ERRORS) throw new MailError(code as MailErrorCode, { detail: `key service: ${what}` });
  throw new MailError('MAIL_DEPENDENCY_FAILED', { detail: `key service: ${what}: status ${status} ${code ?? ''}` });
}

export class HttpKeyService implements KeyService {
  readonly #caller: ServiceCaller;
  constructor(caller: ServiceCaller) { this.#caller = caller; }

  async wrap(keyId: string, dataKey: Uint8Array): Promise<Uint8Array> {
    const r = await this.#caller.call<{ wrapped: string }>('POST', `${KEYS_PATH}/wrap`, { keyId, dataKey: Buffer.from(dataKey).toString('base64') });
    if (r.status !== 200 || typeof r.body?.wrapped !== 'string') fail(r.status, r.body, `wrap ${keyId}`);
    return Buffer.from(r.body.wrapped, 'base64');
  }

  async unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    const r = await this.#caller.call<{ dataKey: string }>('POST', `${KEYS_PATH}/unwrap`, { keyId, wrapped: Buffer.from(wrapped).toString('base64') });
    if (r.status !== 200 || typeof r.body?.dataKey !== 'string') fail(r.status, r.body, `unwrap ${keyId}`);
    return Buffer.from(r.body.dataKey, 'base64');
  }

  async destroy(keyId: string): Promise<void> {
    const r = await this.#caller.call('DELETE', `${KEYS_PATH}/keys/${keyId}`);
    if (r.status !== 204) fail(r.status, r.body, `destroy ${keyId}`);
  }
}
