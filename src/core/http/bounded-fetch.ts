/**
 * A fetch with a cap on the size of what it reads, for every key set and provider document
 * Gatehouse fetches from elsewhere: external OpenID providers (federation), the JWKS of
 * `authn.issuers`, the gateway's assertion JWKS read by the SDK.
 *
 * openid-client and jose read each response (discovery, JWKS, token, userinfo) whole into memory
 * before parsing it, with nothing but a timeout as a bound: an endpoint that is hostile,
 * compromised or merely broken, and answers with gigabytes, would make the process (and every
 * request it serves) run out of memory. No legitimate answer of these endpoints comes near the cap
 * (the largest public JWKS are a few tens of kilobytes).
 */

/** Largest response body read from such an endpoint, in bytes. */
export const MAX_FETCHED_RESPONSE_BYTES = 1024 * 1024;

/** Wraps `inner` so that a response body larger than `maxBytes` fails the request instead of being read. */
export function boundedFetch(inner: typeof fetch, maxBytes = MAX_FETCHED_RESPONSE_BYTES): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const response = await inner(input, init);
    const tooLarge = () => new Error(`response of ${String(input)} exceeds ${maxBytes} bytes`);
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw tooLarge();
    }
    if (!response.body) return response;
    // Content-Length may be absent (chunked) or lie: count what is actually read.
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
    // A null-body status (204, 304 …) cannot be given a body, not even an empty one.
    const nullBody = [101, 103, 204, 205, 304].includes(response.status);
    return new Response(nullBody ? null : Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers });
  }) as typeof fetch;
}
