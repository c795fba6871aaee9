/**
 * A minimal browser stand-in: a cookie jar (name, path, value) and fetch without automatic
 * redirects, so tests see and choose every hop.
 */
export class Browser {
  readonly #fetch: typeof fetch;
  /** name → cookie, for cookies with Path=/ (what tests inspect). */
  readonly cookies = new Map<string, { value: string; path: string }>();
  /** Cookies with a narrower path, keyed by name and path as a browser does. */
  readonly #scoped = new Map<string, { name: string; value: string; path: string }>();

  constructor(f: typeof fetch) {
    this.#fetch = f;
  }

  /** The path-scoped cookies the browser holds (name, value, path). */
  scopedCookies(): { name: string; value: string; path: string }[] {
    return [...this.#scoped.values()].map((c) => ({ ...c }));
  }

  /** Stores a path-scoped cookie as if a response (or a sibling subdomain) had set it. */
  setScoped(name: string, value: string, path: string): void {
    this.#scoped.set(`${name} ${path}`, { name, value, path });
  }

  #cookieHeader(url: URL): string {
    const all = [...[...this.cookies].map(([name, c]) => ({ name, ...c })), ...this.#scoped.values()];
    return all.filter((c) => url.pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  async request(url: string | URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<{ status: number; location: string | undefined; body: string; headers: Headers }> {
    const u = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.#cookieHeader(u);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await this.#fetch(u, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' } as RequestInit);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attrs.some((a) => /^expires=thu, 01 jan 1970/i.test(a.trim())) || value === '';
      if (path === '/') {
        if (expired) this.cookies.delete(name); else this.cookies.set(name, { value, path });
      } else if (expired) this.#scoped.delete(`${name} ${path}`);
      else this.#scoped.set(`${name} ${path}`, { name, value, path });
    }
    const location = res.headers.get('location') ?? undefined;
    return { status: res.status, location: location ? new URL(location, u).href : undefined, body: await res.text(), headers: res.headers };
  }
}

/** Pulls the value of a hidden/input field out of a page. */
export function inputValue(html: string, name: string): string | undefined {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m?.[1]?.replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)));
}

export function formAction(html: string, suffix: string): string | undefined {
  const m = new RegExp(`action="([^"]*/${suffix})"`).exec(html);
  return m?.[1];
}
