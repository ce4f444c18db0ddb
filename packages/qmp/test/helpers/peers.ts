import { qemuAvailable } from '../../scripts/qemu-process.js';

/**
 * Whether a real peer can be used. With CUJU_REQUIRE_PEERS=1 (CI) a missing peer is an
 * error that fails the test file; otherwise its tests are skipped and say why.
 */
export function requirePeer(name: string, available: boolean, install: string): boolean {
  if (available) return true;
  if (process.env.CUJU_REQUIRE_PEERS === '1') {
    throw new Error(`required peer ${name} is missing (CUJU_REQUIRE_PEERS=1): ${install}`);
  }
  console.warn(`skipping tests that need ${name}: ${install}`);
  return false;
}

export const hasQemu = requirePeer(
  'qemu-system-x86_64',
  qemuAvailable(),
  'run scripts/install-peers.sh (apt-get install qemu-system-x86)',
);
