/** The cause of a fetch that must fail (undici wraps connection errors in "fetch failed"). */
import assert from 'node:assert/strict';

export async function fetchFailure(response: Promise<unknown>): Promise<Error> {
  const error = await response.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof Error, 'the request should have failed');
  return (error.cause ?? error) as Error;
}
