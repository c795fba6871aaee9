/**
 * Whether an approver can be shown a held body as text: only when the text shown is the text
 * the upstream will read. That is a textual media type (JSON, form-urlencoded, XML, `text/*`,
 * `+json`/`+xml` types) with no charset or UTF-8, no content coding (`gzip` bytes are not the
 * JSON they decompress to) and bytes that are valid UTF-8 (no overlong forms, no lone
 * surrogates). Anything else is shown as size, digest and content type.
 */

/** RFC 9110 token characters, for the subtype. */
const TEXTUAL = /^(?:text\/[!#$%&'*+.^_`|~0-9a-z-]+|application\/(?:json|x-www-form-urlencoded|xml)|[a-z]+\/[!#$%&'*+.^_`|~0-9a-z-]+\+(?:json|xml))$/;

/** The body as text, or undefined when it must not be shown as text. */
export function bodyAsText(body: Buffer, contentType: string | null, contentEncoding: string | null): string | undefined {
  if (body.length === 0) return '';
  if (contentEncoding !== null && contentEncoding.toLowerCase() !== 'identity') return undefined;
  // No type, or two Content-Type fields (joined by LF): what the upstream reads is not known.
  if (contentType === null || contentType.includes('\n')) return undefined;
  const [type = '', ...params] = contentType.split(';');
  if (!TEXTUAL.test(type.trim().toLowerCase())) return undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return undefined;
  }
  try {
    // ignoreBOM keeps a byte order mark as U+FEFF: the text shown is every byte sent.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    return undefined;
  }
}
