/**
 * Domain XML for a Cuju primary and backup under libvirt, and the FT metadata elements:
 * Cuju's arguments come from the SDK's argv builders, every generated XML passes libvirt's
 * own schema (`virt-xml-validate`, libvirt-clients), and bad input is refused naming the
 * field.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CujuUnsupportedOptionError, primaryArgv, receiverArgv } from '@cuju/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import {
  backupDomain,
  type CujuDomainInput,
  FT_INTENT_NS,
  FtServiceError,
  guestDomain,
  intentElement,
  parseIntentElement,
  parseStatusElement,
  primaryDomain,
  statusElement,
} from '../src/index.js';
import { tempDir } from './helpers/tmp.js';

const VALIDATE = '/usr/bin/virt-xml-validate';
const hasValidator = existsSync(VALIDATE);
if (!hasValidator && process.env.CUJU_REQUIRE_PEERS === '1') {
  throw new Error(
    'required peer virt-xml-validate is missing: run scripts/install-peers.sh (libvirt-clients)',
  );
}

const t = tempDir('fts-lvxml-');
afterAll(() => t.cleanup());

/** Runs virt-xml-validate on the XML; returns its verdict (status 0 = valid) and output. */
function validate(xml: string, name: string): { ok: boolean; out: string } {
  const file = join(t.dir, `${name}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync(VALIDATE, [file, 'domain'], { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

const spec = {
  monitorPath: '/var/run/cuju/vm1.monitor',
  qmpPath: '/var/run/cuju/vm1.qmp',
  nic: { tap: 'tap0', mac: '52:54:00:12:34:56' },
};
const input: CujuDomainInput = {
  name: 'vm1',
  uuid: '0d7e2b1c-5a4f-4c3e-9b2a-1f0e9d8c7b6a',
  memoryMiB: 1024,
  vcpus: 2,
  emulator: '/opt/cuju/bin/qemu-system-x86_64',
  disk: '/mnt/nfs/vm1.img',
  build: 'master',
  spec,
  intent: { enabled: true, epochUs: 5000, placement: { allowedHosts: [], excludedHosts: ['h3'] } },
};

/** The `<qemu:arg value=...>` values, in order. */
const qemuArgs = (xml: string) =>
  [...xml.matchAll(/<qemu:arg value="([^"]*)"\/>/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));

describe('libvirt domain XML for Cuju', () => {
  it.runIf(hasValidator)(
    'the primary: custom emulator, Cuju argv from primaryArgv, intent metadata; valid',
    () => {
      const d = primaryDomain(input);
      expect(d).toMatchObject({ name: 'vm1', uuid: input.uuid });
      expect(d.xml).toContain('<emulator>/opt/cuju/bin/qemu-system-x86_64</emulator>');
      // primaryArgv's, but for the readline monitor's id, which libvirt's own monitor holds.
      const sdk = primaryArgv(spec, 'master');
      expect(sdk).toContain('chardev=mon,id=monitor,mode=readline');
      expect(qemuArgs(d.xml)).toEqual(
        sdk.map((a) =>
          a === 'chardev=mon,id=monitor,mode=readline' ? 'chardev=mon,id=cuju-monitor,mode=readline' : a,
        ),
      );
      expect(d.xml).toContain('<shareable/>');
      expect(d.xml).toContain(`xmlns:cuju="${FT_INTENT_NS}"`);
      const v = validate(d.xml, 'primary');
      expect(v.out).toMatch(/validates/);
      expect(v.ok).toBe(true);
    },
  );

  it.runIf(hasValidator)(
    'the backup: cuju-bk-<id>, a new UUID, receiverArgv with -incoming ...,ft_mode; valid',
    () => {
      const { name: _n, uuid: _u, ...rest } = input;
      const b = backupDomain({ ...rest, backupOf: input.uuid!, incoming: { port: 4441 } });
      expect(b.name).toBe(`cuju-bk-${input.uuid}`);
      expect(b.uuid).not.toBe(input.uuid);
      expect(b.uuid).toMatch(/^[0-9a-f-]{36}$/);
      const args = qemuArgs(b.xml);
      expect(args).toEqual(
        receiverArgv(spec, { port: 4441 }, 'master').map((a) => a.replace('id=monitor,', 'id=cuju-monitor,')),
      );
      expect(args.slice(-2)).toEqual(['-incoming', 'tcp:0:4441,ft_mode']);
      // The backup carries no checkbox: it is the service's, not the user's.
      expect(b.xml).not.toContain(FT_INTENT_NS);
      expect(validate(b.xml, 'backup').ok).toBe(true);
      // Two backups of the same VM never share a UUID.
      expect(backupDomain({ ...rest, backupOf: input.uuid!, incoming: { port: 4441 } }).uuid).not.toBe(
        b.uuid,
      );
    },
  );

  it.runIf(hasValidator)(
    "the create form's guest: plain domain with the checkbox, no pass-through; valid",
    () => {
      const g = guestDomain({
        name: 'web server 1',
        memoryMiB: 512,
        type: 'qemu',
        intent: { enabled: false },
      });
      expect(g.xml).toContain('<name>web server 1</name>');
      expect(g.xml).toContain('<emulator>/usr/bin/qemu-system-x86_64</emulator>');
      expect(g.xml).toContain('enabled="false"');
      expect(g.xml).not.toContain('<qemu:commandline>');
      expect(validate(g.xml, 'guest').ok).toBe(true);
      expect(() => guestDomain({ name: 'a/b', memoryMiB: 512, intent: { enabled: true } })).toThrow(
        /guest.name/,
      );
    },
  );

  it.runIf(hasValidator)('the validator is a real check: a broken domain fails it', () => {
    const broken = primaryDomain(input).xml.replace('<vcpu>2</vcpu>', '<vcpu>two</vcpu>');
    expect(validate(broken, 'broken').ok).toBe(false);
  });

  it('refuses bad input naming the field, and what the build lacks', () => {
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof FtServiceError ? err.field : (err as Error).constructor.name;
      }
      return 'no error';
    };
    expect(field(() => primaryDomain({ ...input, memoryMiB: 0 }))).toBe('primary.memoryMiB');
    expect(field(() => primaryDomain({ ...input, emulator: 'qemu' }))).toBe('primary.emulator');
    expect(field(() => primaryDomain({ ...input, spec: { ...spec, memory: 1024 } }))).toBe(
      'primary.spec.memory',
    );
    expect(field(() => primaryDomain({ ...input, name: 'a b' }))).toBe('primary.name');
    expect(() => primaryDomain({ ...input, spec: { ...spec, gftId: 1 } })).toThrow(
      CujuUnsupportedOptionError,
    );
    const { name: _n, uuid: _u, ...rest } = input;
    expect(field(() => backupDomain({ ...rest, backupOf: '../x', incoming: { port: 4441 } }))).toBe(
      'backup.backupOf',
    );
  });
});

describe('FT metadata elements', () => {
  it('writes and reads back the intent (as virsh metadata prints it: no prefix)', () => {
    const intent = {
      enabled: true,
      engine: 'cuju' as const,
      build: 'master',
      epochUs: 5000,
      reprotect: 'manual' as const,
      placement: { allowedHosts: ['h2'], excludedHosts: ['h3', 'h4'], preferredHost: 'h2' },
    };
    const withPrefix = intentElement(intent, 'cuju');
    expect(parseIntentElement(withPrefix)).toEqual(intent);
    const asVirshPrints = '<ft enabled="yes">\n  <placement excluded="h3"/>\n</ft>\n';
    expect(parseIntentElement(asVirshPrints)).toEqual({
      enabled: true,
      placement: { allowedHosts: [], excludedHosts: ['h3'] },
    });
  });

  it('refuses a bad intent naming the attribute', () => {
    const field = (text: string) => {
      try {
        parseIntentElement(text);
      } catch (err) {
        return (err as FtServiceError).field;
      }
      return 'no error';
    };
    expect(field('<ft enabled="maybe"/>')).toBe('metadata.ft@enabled');
    expect(field('<ft/>')).toBe('metadata.ft@enabled');
    expect(field('<ft enabled="true" epoch-us="5ms"/>')).toBe('metadata.ft@epoch-us');
    expect(field('<ft enabled="true" epoch-us="10"/>')).toBe('metadata.ft.epochUs');
    expect(field('<ft enabled="true" colour="red"/>')).toBe('metadata.ft@colour');
    expect(field('<ft enabled="true">text</ft>')).toBe('metadata.ft');
    expect(field('<ft enabled="true"><placement preferred="Not A Host"/></ft>')).toBe(
      'metadata.ft.placement.preferredHost',
    );
    expect(field('<ft enabled="true" build="a&bogus;"/>')).toBe('metadata.ft');
  });

  it('writes the status element and reads it back', () => {
    const xml = statusElement({
      vmId: 'libvirt-x',
      state: 'not-protected',
      reason: 'secondary-lost',
      detail: 'the "secondary" <exited>',
      primaryHost: 'h1',
      figures: {},
      lastChangeAt: '2026-12-03T08:00:00.000Z',
      observedGeneration: 3,
    });
    expect(parseStatusElement(xml)).toEqual({
      state: 'not-protected',
      reason: 'secondary-lost',
      primaryHost: 'h1',
      observedGeneration: 3,
      lastChangeAt: '2026-12-03T08:00:00.000Z',
    });
    // The escaped detail is well-formed XML (xmllint, libxml2-utils, agrees).
    if (existsSync('/usr/bin/xmllint')) {
      const file = join(t.dir, 'status.xml');
      writeFileSync(file, xml);
      expect(() => execFileSync('/usr/bin/xmllint', ['--noout', file])).not.toThrow();
    }
  });
});
