/** docs/events.md is generated from the event table: regenerate with `npm run docs` when this fails. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEventsDoc } from '../../scripts/gen-events-doc.ts';
import { EVENT_NAMES, EVENT_TABLE, isEventName } from '../../src/core/events.ts';

it('docs/events.md is up to date with the event table', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'events.md'), 'utf8');
  assert.equal(doc, renderEventsDoc(), 'stale: run npm run docs');
});

it('every event is documented with a description, an emitter and described fields', () => {
  for (const name of EVENT_NAMES) {
    const spec = EVENT_TABLE[name];
    assert.match(name, /^[a-z]+(\.[a-z_]+)+$/, `${name}: names are <area>.<what>`);
    assert.ok(spec.description.length > 10, `${name}: description`);
    assert.ok(spec.emittedBy.length > 0, `${name}: emittedBy`);
    for (const [field, doc] of Object.entries(spec.fields)) assert.ok((doc as { description: string }).description.length > 0, `${name}.${field}`);
  }
});

it('isEventName does not accept inherited property names (__proto__, constructor)', () => {
  assert.equal(isEventName('gateway.request'), true);
  assert.equal(isEventName('__proto__'), false);
  assert.equal(isEventName('constructor'), false);
  assert.equal(isEventName('toString'), false);
});
