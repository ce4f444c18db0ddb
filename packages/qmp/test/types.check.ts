import { expectTypeOf } from 'vitest';
import type { QmpClient, QmpCommandMap, QmpEvent, QmpInt, QmpTypedEvent } from '../src/index.js';

// Compile-time checks of the typed API, run by `npm run typecheck` (tsc over packages/*/test):
// a wrong type, or an @ts-expect-error that no longer errs, fails CI. Never executed.
export function typeChecks(c: QmpClient) {
  expectTypeOf(c.execute('query-status')).resolves.toHaveProperty('running').toEqualTypeOf<boolean>();
  expectTypeOf(c.execute('query-kvm')).resolves.toHaveProperty('present').toEqualTypeOf<boolean>();
  // Integers are honest about bigint; enums stay open to values newer QEMUs add.
  expectTypeOf<
    QmpCommandMap['query-memory-size-summary']['returns']['base-memory']
  >().toEqualTypeOf<QmpInt>();
  expectTypeOf<'some-future-state'>().toMatchTypeOf<QmpCommandMap['query-status']['returns']['status']>();
  // Commands with required arguments demand them; unknown commands stay callable.
  // @ts-expect-error device_del needs { id }
  void c.execute('device_del');
  void c.execute('device_del', { id: 'nic0' });
  // @ts-expect-error a known command refuses members it does not have
  void c.execute('query-status', { bogus: 1 });
  expectTypeOf(c.execute('cuju-failover')).resolves.toEqualTypeOf<unknown>();
  expectTypeOf(c.waitForEvent('STOP')).resolves.toEqualTypeOf<QmpTypedEvent<'STOP'>>();
  expectTypeOf<QmpTypedEvent<'DEVICE_DELETED'>['data']>().toHaveProperty('path').toEqualTypeOf<string>();
  expectTypeOf<QmpTypedEvent<'CUJU_SOMETHING'>>().toEqualTypeOf<QmpEvent<'CUJU_SOMETHING', unknown>>();
}
