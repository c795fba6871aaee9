/**
 * The times `audit query|export --since/--until` and `alerts --since` accept: ISO 8601 or a
 * duration back from now. Anything else is refused with ERR_AUDIT_QUERY_INVALID (exit 1),
 * never read as some other time, so a query cannot silently cover the wrong range.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTime } from '../../src/audit/query.ts';
import { toAuditQuery } from '../../src/audit/commands/query.ts';

const NOW = Date.parse('2026-06-15T12:00:00.000Z');

describe('audit query times', () => {
  it('reads ISO 8601 dates and times and durations back from now', () => {
    assert.equal(parseTime('2026-02-28', NOW).toISOString(), '2026-02-28T00:00:00.000Z');
    assert.equal(parseTime('2026-02-28T23:59:59.5Z', NOW).toISOString(), '2026-02-28T23:59:59.500Z');
    assert.equal(parseTime('2026-02-28T10:00:00+02:00', NOW).toISOString(), '2026-02-28T08:00:00.000Z');
    assert.equal(parseTime('2024-02-29', NOW).toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(parseTime('15m', NOW).toISOString(), '2026-06-15T11:45:00.000Z');
    assert.equal(parseTime('7d', NOW).toISOString(), '2026-06-08T12:00:00.000Z');
  });

  it('a day that does not exist (2026-02-30, 2026-04-31) is refused, not rolled over into the next month', () => {
    for (const v of ['2026-02-30', '2026-02-29', '2026-04-31T00:00:00Z', '2026-00-10', '2026-01-00']) {
      assert.throws(() => parseTime(v, NOW), { code: 'ERR_AUDIT_QUERY_INVALID' }, v);
    }
  });

  it('text after a date that is not an ISO 8601 time (12:00 PM, a weekday) is refused, not guessed at', () => {
    for (const v of ['2026-01-01 12:00 PM', '2026-01-01 Mon', '2026-01-01T00:00:00 GMT+1']) {
      assert.throws(() => parseTime(v, NOW), { code: 'ERR_AUDIT_QUERY_INVALID' }, v);
    }
  });

  it('a time of day without a zone (2026-02-28T10:00:00, 2026-02-28 10:00) is refused, not read in whatever zone the machine running the command is set to', () => {
    // Date.parse reads these as local time, while a date alone is UTC and every record is shown
    // in UTC: the same command line covered another hour on a laptop in Berlin than on the server.
    for (const v of ['2026-02-28T10:00:00', '2026-02-28 10:00', '2026-02-28T10:00:00.250']) {
      assert.throws(() => parseTime(v, NOW), { code: 'ERR_AUDIT_QUERY_INVALID', detail: /zone/ }, v);
    }
    assert.equal(parseTime('2026-02-28 10:00Z', NOW).toISOString(), '2026-02-28T10:00:00.000Z');
    assert.equal(parseTime('2026-02-28T10:00:00-05:00', NOW).toISOString(), '2026-02-28T15:00:00.000Z');
  });

  it('a duration reaching before the first representable time is refused, not turned into an invalid date that matches nothing', () => {
    assert.throws(() => parseTime('999999999d', NOW), { code: 'ERR_AUDIT_QUERY_INVALID' });
  });

  it('--since at or after --until (1h and 2h the wrong way round) is refused, not answered with no records that read as "nothing happened"', () => {
    assert.throws(() => toAuditQuery({ since: '1h', until: '2h' }), { code: 'ERR_AUDIT_QUERY_INVALID', detail: /--since .* is not before --until/ });
    assert.throws(() => toAuditQuery({ since: '2026-03-01', until: '2026-03-01T00:00:00Z' }), { code: 'ERR_AUDIT_QUERY_INVALID' });
    const q = toAuditQuery({ since: '2h', until: '1h' });
    assert.ok(q.since! < q.until!);
  });
});
