/**
 * The header fields that say what a body's bytes mean, read for an approval's binding: the
 * same bytes are another request under another multipart boundary, charset or encoding
 * (`gzip` vs none), so an approval binds Content-Type and Content-Encoding as well as the digest.
 *
 * Read from the raw head, not `req.headers`: Node keeps only the first of two Content-Type
 * fields there, while the upstream gets both (enrich copies the raw fields), and may read the
 * second. Every field of the name counts, in order.
 */

/**
 * Every `name` field of the raw head, each value trimmed, joined by LF (which no field value
 * can hold, so two fields never read as one); null when there is none — absent stays absent.
 *
 * @example boundHeaderValue(req.rawHeaders, 'content-type') // 'application/json' | null
 */
export function boundHeaderValue(rawHeaders: readonly string[], name: string): string | null {
  let value: string | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== name) continue;
    const v = rawHeaders[i + 1]!.trim();
    value = value === null ? v : `${value}\n${v}`;
  }
  return value;
}
