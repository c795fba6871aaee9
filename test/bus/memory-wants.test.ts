/**
 * `wants(name)` on the in-process bus: false only when a publish of `name` would reach
 * nobody, so that the request path can skip building `gateway.request` when detection is
 * off — and never false while something (a subscriber, a durable group's backlog) would
 * have taken the event.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEventBus } from '../../src/bus/memory-bus.ts';
import type { Envelope } from '../../src/core/events.ts';

describe('MemoryEventBus.wants', () => {
  it('is false with nobody subscribed, true once a subscriber takes the name, false again after it leaves', async () => {
    const bus = new MemoryEventBus({ instanceId: 'wants-1' });
    assert.equal(bus.wants('gateway.request'), false);
    const seen: Envelope[] = [];
    const off = bus.subscribe(['gateway.request'], (e) => { seen.push(e); });
    assert.equal(bus.wants('gateway.request'), true);
    assert.equal(bus.wants('config.reloaded'), false, 'a subscription to other names does not want this one');
    off();
    assert.equal(bus.wants('gateway.request'), false);
    await bus.close();
  });

  it('is true for a wildcard subscriber', async () => {
    const bus = new MemoryEventBus({ instanceId: 'wants-2' });
    const off = bus.subscribe('*', () => {});
    assert.equal(bus.wants('gateway.request'), true);
    off();
    await bus.close();
  });

  it('stays true for a durable group whose last member left: its backlog keeps the events for the next member', async () => {
    const bus = new MemoryEventBus({ instanceId: 'wants-3' });
    const off = bus.subscribe(['config.reloaded'], () => {}, { durable: 'audit' });
    off();
    assert.equal(bus.wants('config.reloaded'), true);
    bus.publish('config.reloaded', { generation: 2, source: 'test', routes: 1, changedKeys: [] });
    const seen: Envelope[] = [];
    bus.subscribe(['config.reloaded'], (e) => { seen.push(e); }, { durable: 'audit' });
    await bus.flush();
    assert.equal(seen.length, 1, 'the event published while the group had no member was kept for it');
    await bus.close();
  });

  it('is false once the bus is closed', async () => {
    const bus = new MemoryEventBus({ instanceId: 'wants-4' });
    bus.subscribe(['gateway.request'], () => {});
    await bus.close();
    assert.equal(bus.wants('gateway.request'), false);
  });
});
