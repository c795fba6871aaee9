/**
 * The fetch the login flow's browser stand-in uses: undici's `request` behind a fetch-shaped
 * function, because fetch overwrites Sec-Fetch-Mode (a navigation must say `navigate`) and
 * follows no cookies. `dispatcher` reaches the gateway under test (a function: read per
 * request, for a suite that creates it later).
 */
import { request, type Dispatcher } from 'undici';

export function browserFetchVia(dispatcher: Dispatcher | (() => Dispatcher)): typeof fetch {
  return (async (url: URL, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => {
    const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, body: init.body ?? null, dispatcher: typeof dispatcher === 'function' ? dispatcher() : dispatcher });
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (Array.isArray(v)) for (const x of v) headers.append(k, x); else if (v !== undefined) headers.set(k, v);
    }
    const text = await res.body.text();
    return { status: res.statusCode, headers, text: async () => text };
  }) as unknown as typeof fetch;
}
