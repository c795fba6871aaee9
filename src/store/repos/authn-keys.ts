/**
 * Keys of the authn tables often come straight from a request (a cookie, a token's `jti`).
 * One that no write accepts can never be stored, so a lookup with it is "not found", never a
 * database error (PostgreSQL refuses NUL; lone surrogates collide as U+FFFD; index entries
 * are limited to about 2.7 kB).
 */
export function isStorableKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && key.length <= 512 && key.isWellFormed() && !key.includes('\0');
}
