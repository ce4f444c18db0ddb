/** The library entry: where the simulator's executable is, in a shape the SDK's users pass on. */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { simBinary, simBinPath } from '../src/index.js';

describe('@cuju/sim entry', () => {
  it('simBinPath is the executable script the package declares as its bin', () => {
    expect(simBinPath).toMatch(/\/bin\/cuju-sim\.mjs$/);
    expect(statSync(simBinPath).isFile()).toBe(true);
  });

  it('simBinary starts cuju-sim with this Node, like Cuju is started', () => {
    expect(simBinary).toEqual({ path: process.execPath, args: [simBinPath] });
    const out = execFileSync(simBinary.path, [...simBinary.args, '--version'], {
      encoding: 'utf8',
      env: { ...process.env, CUJU_SIM_FROM_SOURCE: '1' },
    });
    expect(out).toMatch(/^QEMU emulator version 2\.8\.0 \(cuju-sim\)/);
  });

  it('simBinary cannot be changed by one user for every other', () => {
    expect(() => {
      (simBinary.args as string[]).push('-S');
    }).toThrow(TypeError);
    expect(() => {
      (simBinary as { path: string }).path = '/bin/false';
    }).toThrow(TypeError);
  });
});
