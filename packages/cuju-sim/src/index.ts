/**
 * @cuju/sim as a library: where its executable is, so that code driving Cuju (tests, demos,
 * an SDK user's CI) can start the simulator in place of Cuju's `qemu-system-x86_64`. The
 * simulator itself is the `cuju-sim` binary; importing this module starts nothing.
 *
 * @packageDocumentation
 */
import { fileURLToPath } from 'node:url';

/**
 * How to start a program: an executable and the arguments that go before the program's
 * own. The same shape as `CujuBinary` in `@cuju/sdk`, so {@link simBinary} can be passed
 * where the SDK asks for a Cuju binary.
 */
export interface SimBinary {
  /** The executable: the Node.js that runs this code (`process.execPath`). */
  readonly path: string;
  /** Arguments before Cuju's own: the simulator's script, {@link simBinPath}. */
  readonly args: readonly string[];
}

/**
 * The absolute path of the `cuju-sim` executable script (`bin/cuju-sim.mjs` in this
 * package). Run it with Node: `node <simBinPath> -m 1G -incoming tcp:0:4441,ft_mode ...`.
 */
export const simBinPath: string = fileURLToPath(new URL('../bin/cuju-sim.mjs', import.meta.url));

/**
 * cuju-sim as a Cuju binary: this Node.js running {@link simBinPath}, for
 * `new FtPair({ ..., binary: simBinary })` or `host.spawnVm([simBinary.path, ...simBinary.args, ...argv])`.
 * It names files on this machine, so it fits hosts that share this machine's file system
 * (`LocalHost`, an SSH host on loopback).
 */
export const simBinary: SimBinary = Object.freeze({
  path: process.execPath,
  args: Object.freeze([simBinPath]),
});
