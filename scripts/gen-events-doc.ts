/**
 * Generates docs/events.md from the event table in src/core/events.ts.
 * `npx node scripts/gen-events-doc.ts`; test/bus/events-doc.test.ts fails when the doc is stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_NAMES, EVENT_TABLE, type FieldDoc } from '../src/core/events.ts';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderEventsDoc(): string {
  const out: string[] = [
    '# Events',
    '',
    '<!-- Generated from src/core/events.ts by scripts/gen-events-doc.ts. Do not edit by hand. -->',
    '',
    'Gatehouse components publish typed events on the event bus (`bus.url`: in-process by default,',
    'NATS JetStream to share them between instances). The audit log, metrics and anomaly detection',
    'subscribe to them. Payloads never contain secrets.',
    '',
    '## Envelope',
    '',
    'Every event travels in the same envelope:',
    '',
    '| field | type | description |',
    '|---|---|---|',
    '| `id` | string | UUIDv7: unique, sortable by creation time (millisecond precision). Also the JetStream message id, so a retried publish is not stored twice. |',
    '| `time` | string | Time of publication, ISO 8601 in UTC with milliseconds (`2026-11-22T20:00:00.000Z`), nothing else. A received event stamped more than 5 minutes ahead of the receiver\'s clock (allowed clock skew) is refused; an older one is not (a durable backlog or a retried publish arrives late). Detection counts an event at its arrival when that is earlier than its time. |',
    '| `instance` | string | `instanceId` of the publishing Gatehouse instance: 1 to 256 printable ASCII characters, no spaces. |',
    '| `name` | string | Event name (below). On NATS the subject is `<bus.subjectPrefix>.<name>`. |',
    '| `payload` | object | The event\'s fields (below). |',
    '',
    '## Delivery',
    '',
    '- `publish` never blocks and never throws: events are buffered (`bus.maxBuffer` events; on NATS',
    '  also `bus.maxBufferBytes`, 64 MiB by default, for the publish buffer and each live subscriber\'s',
    '  inbox) and delivered asynchronously. A full buffer drops new events; drops, publish failures and',
    '  subscriber errors are counted in `bus.stats()` and logged. An event whose envelope is over 1 000 000 bytes of JSON',
    '  (`bus.maxEventBytes`; below NATS\'s default `max_payload` of 1 MiB) is refused at publish',
    '  by every backend the same way: a counted drop, logged as ERR_BUS_EVENT_TOO_LARGE with its name,',
    '  id and size. On NATS an event the server can never take (a smaller `max_payload`, the stream\'s',
    '  message size limit) is a counted drop at once too.',
    '- Each subscriber gets events one at a time; a slow or throwing subscriber delays or affects',
    '  nobody else. Order: in process, publication order. On NATS, each publisher\'s events in',
    '  publication order, except that an event whose publish had to be retried (connection loss) can',
    '  arrive after events published later, and on a durable subscription an event redelivered (its',
    '  handler threw or timed out, or its acknowledgement came too late) arrives after the events',
    '  delivered meanwhile; the members of a durable group each see only their share. Events of',
    '  different publishers are interleaved in no promised order. A subscriber for which order',
    '  matters orders by the envelope\'s `time` and `id` itself.',
    '- A handler\'s returned promise gets at most 10 s (`bus.handlerTimeoutMs`, at most 25 s:',
    '  below JetStream\'s 30 s ack wait). Past it the delivery counts as failed, as if the handler had',
    '  thrown: logged as ERR_BUS_HANDLER_TIMEOUT with the event\'s name and id (never its payload),',
    '  counted in `handlerErrors` and `handlerTimeouts`, and the next event goes ahead. The late handler',
    '  is not cancelled; it runs on beside the next event.',
    '- The payload is taken at publish time as JSON carries it (later changes to the published object',
    '  are not seen; a payload JSON cannot carry, e.g. a cycle or a BigInt, is a counted drop). Events',
    '  are read-only: the in-process bus hands every subscriber the same deep-frozen copy.',
    '- Every event is checked against this table before a subscriber sees it (NATS: on receipt, so',
    '  also what someone else put on the stream\'s subjects; in process: at publish): the envelope\'s',
    '  fields (a UUIDv7 id, a strict UTC time not too far ahead, a printable instance), a known name,',
    '  every required field present and every field of its documented type.',
    '  An event that fails is refused, never delivered (on NATS a durable consumer terminates it, so',
    '  it is not redelivered), counted in `malformed` and logged as ERR_BUS_EVENT_INVALID with the',
    '  field at fault, never the payload. Keys the table does not document are left out of what',
    '  subscribers get, not refused: a newer version may add an optional field during an upgrade.',
    '- **Live** subscriptions see events published while they exist. On NATS a publish retried after',
    '  its acknowledgement was lost reaches them again (the stream stores it once): a subscriber for',
    '  which a second delivery matters skips event ids it has handled (detection does). A message whose',
    '  envelope is malformed, or names an event the subscriber did not ask for, is dropped.',
    '- **Durable** subscriptions (`{ durable: name }`) share work between all subscribers of that name',
    '  that ask for the same event names, in any instance, and keep events published while none is',
    '  subscribed. On NATS this is a durable JetStream consumer: at least once, redelivered (after 1 s,',
    '  at most 5 deliveries; the last failed one terminates the event, counted in `dropped` and logged',
    '  as given up, with its name, id and delivery count) when the handler throws or times out, kept',
    '  across restarts. While a',
    '  handler runs, the event and the rest of its pulled batch (up to 16) get an in-progress ack every',
    '  third of the 30 s ack wait, so slow but progressing handlers are not given duplicates. The',
    '  in-process bus keeps them in a bounded backlog that does not survive a restart and does not',
    '  redeliver.',
    '- On NATS `close()` takes in what the server already sent to live subscribers and gives their',
    '  handlers, and durable handlers in progress (with their acks), up to 5 s each before counting',
    '  the rest as dropped, as the in-process bus does.',
    '- On NATS a durable consumer deleted while its subscribers run (the inactivity removal below, an',
    '  operator) is made again from after the last event its subscriber settled, and a stream lost while',
    '  Gatehouse runs (NATS restarted without persistent storage) is created again a second after a',
    '  publish or a consumer fails; the events the lost stream held are gone.',
    '- Subscribers of one durable name that ask for **different event names** (two versions during an',
    '  upgrade) are separate groups: each gets every event it asked for and none other, and an event',
    '  both ask for reaches one subscriber of each group, so such a subscriber skips event ids it has',
    '  already handled (the audit log does). On NATS a group is the consumer `<name>_<digest>`, the',
    '  digest taken from its sorted event names; its filter is never rewritten by another group.',
    '- On NATS a new group starts where the durable name\'s most recently created other group left off',
    '  (the previous version\'s, in an upgrade, whether rolling or stop-then-start), so no event',
    '  published during the switch is lost; with none it starts after what the stream held when its',
    '  subscriber first tried to attach (a failed first attach loses nothing published until a retry',
    '  succeeds). A group nobody pulls from for the stream\'s max age (`bus.maxAgeMs` when Gatehouse',
    '  created the stream) is removed by the server, like the events it was keeping: groups left',
    '  behind by an upgrade do not pile up, and a durable subscriber away for longer starts again with',
    '  new events. A consumer named after a group but made with another filter or ack policy (by hand)',
    '  is refused, logged as ERR_BUS_UNAVAILABLE and left unchanged until someone deletes it.',
    '',
    '## Event table',
    '',
    '| event | emitted by | description |',
    '|---|---|---|',
  ];
  for (const name of EVENT_NAMES) {
    const spec = EVENT_TABLE[name];
    out.push(`| [\`${name}\`](#${name.replace(/\./g, '')}) | ${cell(spec.emittedBy)} | ${cell(spec.description)} |`);
  }
  for (const name of EVENT_NAMES) {
    const spec = EVENT_TABLE[name];
    out.push('', `### ${name}`, '', spec.description, '', `Emitted by: ${spec.emittedBy}`, '', '| field | type | required | description |', '|---|---|---|---|');
    for (const [field, doc] of Object.entries(spec.fields) as [string, FieldDoc][]) {
      out.push(`| \`${field}\` | \`${cell(doc.type)}\` | ${doc.optional ? 'no' : 'yes'} | ${cell(doc.description)} |`);
    }
  }
  out.push('');
  return out.join('\n');
}

if (import.meta.main) {
  writeFileSync(join(import.meta.dirname, '..', 'docs', 'events.md'), renderEventsDoc());
  console.log('wrote docs/events.md');
}
