/**
 * A group whose hosts are reached over SSH (two real sshd peers on 127.0.0.2 and
 * 127.0.0.3, one host key checked against a known_hosts file, the other against a pinned
 * fingerprint): it reaches protection and goes down without a trace. A host key that does
 * not match stops the run before any VM starts, naming the host.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sshd, startSshd } from '../../../scripts/lib/loopback-sshd.js';
import { requireSshd } from '../../cuju-sdk/test/helpers/sshd.js';
import { GftError, type GroupSpecInput, parseGroupSpec, planGroup, runPlan } from '../src/index.js';
import { noneLeft, simSpecInput, tempDir } from './helpers.js';

const HAVE_SSHD = requireSshd();

describe.skipIf(!HAVE_SSHD)('a group over SSH hosts', () => {
  const sshds: Sshd[] = [];
  const t = tempDir();
  let keyPath = '';

  beforeAll(async () => {
    for (const host of ['127.0.0.2', '127.0.0.3']) sshds.push(await startSshd({ host }));
    keyPath = join(t.dir, 'id');
    writeFileSync(keyPath, sshds[0]!.userKey, { mode: 0o600 });
  });
  afterAll(async () => {
    await Promise.allSettled(sshds.map((s) => s.stop()));
    t.cleanup();
  });

  /** The sim spec with its two hosts reached over SSH. */
  async function sshSpec(dir: string, sha256?: string): Promise<GroupSpecInput> {
    const input = await simSpecInput(2, dir);
    const [p, b] = sshds as [Sshd, Sshd];
    writeFileSync(join(t.dir, 'id-b'), b.userKey, { mode: 0o600 });
    return {
      ...input,
      hosts: {
        p: {
          kind: 'ssh',
          address: '127.0.0.2',
          port: p.port,
          user: p.username,
          privateKeyPath: keyPath,
          hostKey: { knownHostsPath: p.knownHostsPath },
        },
        b: {
          kind: 'ssh',
          address: '127.0.0.3',
          port: b.port,
          user: b.username,
          privateKeyPath: join(t.dir, 'id-b'),
          hostKey: { sha256: sha256 ?? b.hostFingerprint },
        },
      },
    };
  }

  it('reaches protection across the two SSH hosts and goes down without a trace', async () => {
    const d = tempDir();
    try {
      const spec = parseGroupSpec(await sshSpec(d.dir));
      const group = await runPlan(planGroup(spec));
      try {
        expect(group.status().state).toBe('protected');
        expect(group.host('p').name).toMatch(/^ssh:/);
      } finally {
        await group.down();
      }
      expect(await noneLeft(d.dir)).toEqual([]);
    } finally {
      d.cleanup();
    }
  });

  it('a host key that does not match: GFT_HOST_FAILED naming the host, nothing started', async () => {
    const d = tempDir();
    try {
      const wrong = `SHA256:${'A'.repeat(43)}`;
      const spec = parseGroupSpec(await sshSpec(d.dir, wrong));
      const err = await runPlan(planGroup(spec)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GftError);
      expect((err as GftError).code).toBe('GFT_HOST_FAILED');
      expect((err as GftError).message).toContain("host 'b' (ssh 127.0.0.3)");
      expect(await noneLeft(d.dir)).toEqual([]);
    } finally {
      d.cleanup();
    }
  });
});
