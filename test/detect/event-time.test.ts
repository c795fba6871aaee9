/**
 * Event times from instances whose clocks disagree: a window ends at the newest event of its
 * key, so an event stamped ahead must not push the events of the other instances out of it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../src/core/config/detect-schema.ts';
import { createEventTimeParser } from '../../src/detect/event-time.ts';
import { Rules } from '../../src/detect/rules.ts';

const config = detectSchema.parse({ bruteForceAccount: { threshold: 3, windowMs: 60_000 } });

describe('event times across instances', () => {
  it('a failed sign-in stamped an hour ahead (an instance whose clock runs fast) does not blind brute-force counting to the failures the other instances report', () => {
    const now = Date.parse('2025-06-02T10:00:00.000Z');
    let clock = now;
    const timeOf = createEventTimeParser(() => clock);
    const rules = new Rules(config);
    const failed = (iso: string) => rules.evaluate({ name: 'identity.login.failed', time: timeOf(iso), payload: { username: 'alice', clientAddress: '192.0.2.7', reason: 'bad_credentials' } })
      .filter((f) => f.rule === 'brute_force_account');
    assert.deepEqual(failed('2025-06-02T11:00:00.000Z'), [], 'from the instance an hour ahead');
    clock += 1000;
    assert.deepEqual(failed('2025-06-02T10:00:01.000Z'), []);
    clock += 1000;
    assert.equal(failed('2025-06-02T10:00:02.000Z').length, 1, 'three failures within the minute: brute force');
  });

  it('times in the past are kept (a late event counts at its own time); unparseable times count as now', () => {
    const clock = Date.parse('2025-06-02T10:00:00.000Z');
    const timeOf = createEventTimeParser(() => clock);
    assert.equal(timeOf('2025-06-02T09:59:00.000Z'), clock - 60_000);
    assert.equal(timeOf('2025-06-02T09:59:00.000Z'), clock - 60_000, 'from the cache');
    assert.equal(timeOf('not a time'), clock);
    assert.equal(timeOf('2025-06-02T10:30:00.000Z'), clock);
  });
});
