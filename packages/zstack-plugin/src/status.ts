/**
 * From what the driver says (a pair record) to what the user reads (an FtStatus in
 * vSphere FT's words). One function, so that a step's result and a spontaneous change (a
 * failover seen by the driver) read the same.
 */
import type { PairRecord } from './driver.js';
import type { FtIntent, FtStatus, NotProtectedReason, ReplicationFigures, Vm } from './model.js';
import { nowIso } from './model.js';

export interface StatusInput {
  vm: Vm;
  intent: FtIntent;
  record: PairRecord | undefined;
  previous: FtStatus | undefined;
  figures?: ReplicationFigures;
  /** Overrides, when the reconciler knows better than the record (a blocked step). */
  blocked?: { reason: NotProtectedReason; detail: string };
  /** Words to show without changing the state (an operation that could not be done). */
  note?: string;
}

export function deriveStatus(input: StatusInput): FtStatus {
  const { vm, intent, record, previous, blocked } = input;
  const figures: ReplicationFigures = { ...previous?.figures, ...input.figures };
  const base = {
    vmId: vm.id,
    primaryHost: record?.primary.host ?? previous?.primaryHost ?? vm.host,
    ...(record?.secondary ? { secondaryHost: record.secondary.host } : {}),
    // The epoch in effect, as the driver reports it (never the intent's wish).
    ...(record?.epochUs ? { epochUs: record.epochUs } : {}),
    figures,
    observedGeneration: intent.generation,
  };
  const state = (s: FtStatus['state'], reason?: NotProtectedReason, detail?: string): FtStatus => {
    const changed =
      !previous ||
      previous.state !== s ||
      previous.reason !== reason ||
      previous.primaryHost !== base.primaryHost ||
      previous.secondaryHost !== (record?.secondary?.host ?? undefined);
    return {
      ...base,
      state: s,
      ...(reason ? { reason } : {}),
      ...(detail ? { detail } : {}),
      lastChangeAt: changed ? nowIso() : previous.lastChangeAt,
    };
  };
  if (blocked) return state('not-protected', blocked.reason, blocked.detail);
  const note = input.note;
  const rs = record?.state;
  if (!intent.enabled) {
    // FT was turned off: the pair stays what it is until Turn Off has been done.
    if (rs === 'protected') return state('protected', undefined, input.note ?? 'Turn Off is pending');
    if (rs === 'starting') return state('starting', undefined, 'Turn Off follows once FT is up');
    return state('disabled', undefined, input.note);
  }
  switch (rs) {
    case undefined:
    case 'launching':
    case 'starting':
      return state('starting', undefined, note ?? record?.detail);
    case 'running':
      return state('not-protected', 'need-secondary', note ?? record?.detail);
    case 'protected':
      return state('protected', undefined, note);
    case 'failing-over':
      return state('failing-over', undefined, record?.detail);
    case 'failed-over':
      return state('failed-over', undefined, record?.detail);
    case 'secondary-lost':
      return state('not-protected', 'secondary-lost', record?.detail);
    case 'stopping':
    case 'stopped':
      return state('not-protected', 'vm-not-running', record?.detail);
    case 'error':
      return state('not-protected', 'error', record?.detail);
  }
}

/** The same status, ignoring when it was written: did anything a user sees change? */
export function sameStatus(a: FtStatus | undefined, b: FtStatus): boolean {
  if (!a) return false;
  return (
    a.vmId === b.vmId &&
    a.state === b.state &&
    a.reason === b.reason &&
    a.detail === b.detail &&
    a.primaryHost === b.primaryHost &&
    a.secondaryHost === b.secondaryHost &&
    a.epochUs === b.epochUs &&
    a.observedGeneration === b.observedGeneration &&
    canonical(a.figures) === canonical(b.figures)
  );
}

/** JSON with sorted keys: two objects with the same entries in another order compare equal. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** "Protected", "Not protected (secondary-lost)": for events and logs. */
export function describeStatus(s: FtStatus): string {
  const words: Record<FtStatus['state'], string> = {
    disabled: 'FT disabled',
    starting: 'Starting',
    protected: 'Protected',
    'not-protected': 'Not protected',
    'failing-over': 'Failing over',
    'failed-over': 'Failed over',
  };
  const where = s.secondaryHost
    ? ` (primary ${s.primaryHost}, secondary ${s.secondaryHost})`
    : s.primaryHost
      ? ` (on ${s.primaryHost})`
      : '';
  return `${words[s.state]}${s.reason ? `: ${s.reason}` : ''}${where}${s.detail ? ` - ${s.detail}` : ''}`;
}
