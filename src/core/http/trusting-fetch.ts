/**
 * A fetch that trusts extra CA certificates in addition to the system roots, for talking to
 * a Gatehouse whose public certificate comes from a private CA (or is self-signed in
 * development) without ever turning certificate verification off.
 */
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';

export function fetchTrusting(ca: string | readonly string[]): typeof fetch {
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, ...(typeof ca === 'string' ? [ca] : ca)] } });
  return ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}
