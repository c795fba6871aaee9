/**
 * Values looked up in the identity tables often come straight from a request (the login
 * form's user name, an OAuth request's client_id, an external IdP's `sub`, an API token id
 * to revoke). One that no text column can hold as it is can match no row, so the lookup
 * answers "not found" without asking the database: PostgreSQL refuses NUL (an error where SQLite found nothing), and both
 * drivers send a lone surrogate as U+FFFD, which would match a row holding U+FFFD.
 */
export function canMatch(value: unknown): value is string {
  return typeof value === 'string' && value.isWellFormed() && !value.includes('\0');
}
