/** What the console says, in vSphere FT's words. */
import type { FtStatus } from './api.js';

const REASONS: Record<string, string> = {
  starting: 'starting',
  'need-secondary': 'need secondary VM',
  'vm-not-running': 'VM not running',
  'secondary-lost': 'secondary lost',
  'no-backup-host': 'no backup host',
  'driver-unsupported': 'not supported yet',
  'controller-restarted': 'controller restarted',
  error: 'error',
};

export function badgeText(s: FtStatus): string {
  switch (s.state) {
    case 'protected':
      return 'Protected';
    case 'not-protected':
      return `Not protected: ${REASONS[s.reason ?? 'error'] ?? s.reason}`;
    case 'failing-over':
      return 'Failing over';
    case 'failed-over':
      return 'Failed over';
    case 'starting':
      return 'Starting';
    case 'disabled':
      return 'FT off';
  }
}

export function epochText(s: FtStatus): string {
  const us = s.epochUs ?? s.figures.epochUs;
  return us === undefined ? '-' : `${(us / 1000).toLocaleString()} ms`;
}

export function figuresText(s: FtStatus): string {
  const parts: string[] = [];
  const f = s.figures;
  if (f.bandwidthBps !== undefined) parts.push(`${(f.bandwidthBps / 1e6).toFixed(1)} MB/s`);
  if (f.lagMs !== undefined) parts.push(`lag ${f.lagMs} ms`);
  if (f.failovers) parts.push(`${f.failovers} failover${f.failovers > 1 ? 's' : ''}`);
  if (f.lastDetectionMs !== undefined) parts.push(`detected in ${f.lastDetectionMs} ms`);
  return parts.length ? parts.join(', ') : '-';
}

export const FT_HELP =
  'Runs a secondary copy of this VM on another host, kept in lockstep with the primary. ' +
  'If the primary or its host fails, the secondary takes over without losing state.';

export const ACTIONS = {
  'turn-on': {
    label: 'Turn On',
    confirm: (vm: string) => `Turn fault tolerance on for ${vm}? A secondary VM will start on another host.`,
  },
  'turn-off': {
    label: 'Turn Off',
    confirm: (vm: string) =>
      `Turn fault tolerance off for ${vm}? The secondary VM is stopped; the primary keeps running unprotected.`,
  },
  'test-failover': {
    label: 'Test Failover',
    confirm: (vm: string) =>
      `Test Failover kills the primary of ${vm} on purpose; the secondary takes over. Continue?`,
  },
  'restart-secondary': {
    label: 'Restart Secondary',
    confirm: (vm: string) => `Start a new secondary for ${vm} on another host, to protect it again?`,
  },
} as const;
export type ActionName = keyof typeof ACTIONS;
