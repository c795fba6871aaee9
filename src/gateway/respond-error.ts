/**
 * The one error path of the gateway. Clients get status, stable code, a short public
 * message and the request id — JSON for API clients, a small HTML page for browsers.
 * The cause never goes on the wire; the access log and audit event carry it.
 */
import type { ServerResponse } from 'node:http';
import type { GatehouseError } from '../core/errors.ts';

function wantsHtml(accept: string | undefined): boolean {
  // Browsers send text/html first; API clients send JSON or nothing.
  return accept !== undefined && accept.startsWith('text/html');
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

// A browser user sees no response headers: the page itself must say which id to pass on and what then.
function approvalHtml(approvalId: string): string {
  const id = escapeHtml(approvalId);
  return `<p>Approval id: <code>${id}</code></p>`
    + '<p>Send this id to a person who can approve the request. Once they have approved it, send the same request again '
    + `with the header <code>Gatehouse-Approval: ${id}</code>; it is let through once.</p>`;
}

/**
 * Whether the error answer closes the connection. The request body may be unread; closing keeps
 * us from reading an attacker's body. After a framing refusal the connection closes whatever was
 * read: where this request ends is the very thing in doubt, so no byte after it may be taken for
 * the next request.
 */
export function errorClosesConnection(res: ServerResponse, error: GatehouseError): boolean {
  return !res.req.complete || error.code === 'ERR_REQUEST_SMUGGLING';
}

/**
 * @param hsts the Strict-Transport-Security value for this request (http/strict-transport-security.ts)
 * @param added headers earlier stages collected for the client (RequestContext.responseHeaders,
 *   e.g. RateLimit after an allowed rate-limit decision); the error's own headers win.
 */
export function writeErrorResponse(res: ServerResponse, error: GatehouseError, requestId: string, accept: string | undefined, added?: readonly string[], hsts?: string): void {
  if (res.headersSent) {
    // Too late for a clean error: the status line is gone. Cut the connection so the
    // client cannot mistake a truncated body for a complete one.
    res.destroy();
    return;
  }
  const decisionId = typeof error.data?.decisionId === 'string' ? error.data.decisionId : undefined;
  // A held request's approval id (ERR_APPROVAL_PENDING): what the client hands to an approver.
  const approvalId = typeof error.data?.approvalId === 'string' ? error.data.approvalId : undefined;
  const headers: Record<string, string> = {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-request-id': requestId,
  };
  if (hsts !== undefined) headers['strict-transport-security'] = hsts;
  if (added !== undefined) for (let i = 0; i < added.length; i += 2) headers[added[i]!] = added[i + 1]!;
  if (error.headers !== undefined) Object.assign(headers, error.headers);
  let body: string;
  if (wantsHtml(accept)) {
    headers['content-type'] = 'text/html; charset=utf-8';
    headers['content-security-policy'] = "default-src 'none'; style-src 'unsafe-inline'";
    body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${error.status} ${escapeHtml(error.publicMessage)}</title>`
      + '<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#eee;padding:.1rem .3rem}</style></head>'
      + `<body><h1>${escapeHtml(error.publicMessage)}</h1><p>Status ${error.status} · <code>${error.code}</code></p>`
      + `<p>Request id: <code>${escapeHtml(requestId)}</code>${decisionId ? `<br>Decision id: <code>${escapeHtml(decisionId)}</code>` : ''}</p>`
      + (approvalId ? approvalHtml(approvalId) : '') + '</body></html>\n';
  } else {
    headers['content-type'] = 'application/json';
    body = JSON.stringify({ error: { code: error.code, message: error.publicMessage, requestId, ...(decisionId ? { decisionId } : {}), ...(approvalId ? { approvalId } : {}) } }) + '\n';
  }
  headers['content-length'] = String(Buffer.byteLength(body));
  if (errorClosesConnection(res, error)) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
