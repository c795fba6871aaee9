/**
 * One /metrics render shared by every scrape that arrives while it is under way.
 *
 * A render of a busy registry costs tens of milliseconds of the main thread, the one that
 * serves every public request (metrics-text.ts yields between slices, but the CPU is spent all
 * the same). Each concurrent scrape rendering the same registry again multiplied that cost by
 * the number of scrapers: twenty at once, from whoever reaches the ops listener, kept the
 * gateway's event loop busy rendering. Here a scrape that arrives during a render is given the
 * pieces already made and then the rest as they come; the next scrape after it ends starts a
 * new render, so no text outlives its render. A joiner's text is at most one render old,
 * which a scraper cannot tell from network delay.
 */
import type { Registry } from 'prom-client';
import { metricsText } from './metrics-text.ts';

interface Render {
  /** Pieces rendered so far (their concatenation is the text up to here). */
  readonly pieces: string[];
  done: boolean;
  failed: boolean;
  /** Scrapers waiting for the next piece or the end. */
  readonly waiting: (() => void)[];
}

/** The render under way per registry; removed when it ends. */
const rendering = new WeakMap<Registry, Render>();

function start(registry: Registry): Render {
  const render: Render = { pieces: [], done: false, failed: false, waiting: [] };
  rendering.set(registry, render);
  const wake = () => { for (const resolve of render.waiting.splice(0)) resolve(); };
  void (async () => {
    try {
      for await (const piece of metricsText(registry)) {
        if (piece === '') continue;
        render.pieces.push(piece);
        wake();
      }
    } catch {
      render.failed = true;
    } finally {
      render.done = true;
      if (rendering.get(registry) === render) rendering.delete(registry);
      wake();
    }
  })();
  return render;
}

/**
 * The text of `registry` in pieces, as {@link metricsText} gives it, from the render under
 * way if there is one. Throws when that render failed (after the pieces it made).
 */
export async function* sharedMetricsText(registry: Registry): AsyncGenerator<string> {
  const render = rendering.get(registry) ?? start(registry);
  let next = 0;
  for (;;) {
    while (next < render.pieces.length) yield render.pieces[next++]!;
    if (render.done) break;
    await new Promise<void>((resolve) => { render.waiting.push(resolve); });
  }
  if (render.failed) throw new Error('metrics render failed');
}
