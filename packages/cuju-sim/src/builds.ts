/**
 * The Cuju builds cuju-sim can be (`-sim-build NAME`), read in Cuju-ft/Cuju at these
 * commits (reference cuju-builds.md; file@commit:line next to each fact in the code):
 *
 * - `master` (21f9f0b, the default branch, 2022): plain FT pairs, cuju-migrate-cancel,
 *   cuju-get-ft-mode/-started, `migrate -c` that sets cuju-ft. No group FT, no block server.
 * - `groupft` (d2e55fe, PR #42/#43, never merged): group FT on an older FT core; every VM
 *   binds its join port.
 * - `blk-server` (4b17b51, PR #27, never merged): the block server, a group-FT-era core
 *   without gft_status, a stub cuju-failover, the old `... N ms.` epoch line.
 *
 * The default is `master`: it is what `git clone` of Cuju gives, and the only build whose
 * FT core is maintained. This file is cuju-sim's own (it shares nothing with @cuju/sdk,
 * whose profiles say the same things; tests hold both to the reference).
 */
export const SIM_BUILDS = ['master', 'groupft', 'blk-server'] as const;
export type SimBuild = (typeof SIM_BUILDS)[number];
export const DEFAULT_SIM_BUILD: SimBuild = 'master';

export const BUILD_COMMITS: Readonly<Record<SimBuild, string>> = {
  master: '21f9f0b',
  groupft: 'd2e55fe',
  'blk-server': '4b17b51',
};

/** Cuju's own command-line options, and the builds whose vl.c knows them. */
export const CUJU_OPTIONS_BY_BUILD: Readonly<Record<SimBuild, readonly string[]>> = {
  // vl.c@21f9f0b has no QEMU_OPTION_ft_join_port, _gft_id or _blk_server*.
  master: [],
  // qemu-options.hx@d2e55fe:3283-3287
  groupft: ['ft-join-port', 'gft-id'],
  // qemu-options.hx@4b17b51:3283-3287, 4077-4088
  'blk-server': ['ft-join-port', 'gft-id', 'blk-server', 'blk-server-listen'],
};

/** What differs in behaviour, as switches the simulator reads. */
export interface BuildBehaviour {
  /** `migrate -c` sets cuju-ft on, a plain `migrate` sets it off (migration.c@21f9f0b:1513-1519). */
  migrateSetsCapability: boolean;
  /** cuju-failover: a real cuju_ft_trans_close (crash outside a receiver in FT), or a print-only stub. */
  failover: 'takeover' | 'stub';
  /** `new epoch size is N us.` or `... N ms.` */
  epochUnit: 'us' | 'ms';
  /** `info migrate` starts with `GFT STATUS ...` and qmp_query_migrate prints `in func qmp_query_migrate `. */
  gftStatus: boolean;
  /** Every VM binds 0:ft_join_port and aborts when it cannot (vl.c@d2e55fe:4728). */
  bindsJoinPort: boolean;
  /** Primary markers of the FT set-up: `start cuju process` and `... recv ack, index N`. */
  printsFtSetup: boolean;
  /** Backup death: master returns to non-FT with the status unchanged; the others fail the migration. */
  backupDeath: 'back-to-non-ft' | 'ft-error';
  /** cuju-migrate-cancel and its CHECKALIVE exchange exist (master only). */
  cancel: boolean;
}

export const BEHAVIOUR: Readonly<Record<SimBuild, BuildBehaviour>> = {
  master: {
    migrateSetsCapability: true,
    failover: 'takeover',
    epochUnit: 'us', // cuju-kvm-share-mem.c@21f9f0b:136
    gftStatus: false,
    bindsJoinPort: false,
    printsFtSetup: true, // migration.c@21f9f0b:2695, 2414
    backupDeath: 'back-to-non-ft', // migration.c@21f9f0b:2441-2482
    cancel: true,
  },
  groupft: {
    migrateSetsCapability: false, // migration.c@d2e55fe:1582-1584
    failover: 'takeover', // cuju-ft-trans-file.c@d2e55fe:1324-1327
    epochUnit: 'us',
    gftStatus: true, // hmp.c@d2e55fe:177-186, migration.c@d2e55fe:985
    bindsJoinPort: true,
    printsFtSetup: false, // both are FTPRINTF (debug only) at migration.c@d2e55fe:3265, 2960
    backupDeath: 'ft-error', // migration.c@d2e55fe:2985-2988, 3025-3030
    cancel: false,
  },
  'blk-server': {
    migrateSetsCapability: false, // migration.c@4b17b51:1519-1520
    failover: 'stub', // cuju-kvm-share-mem.c@4b17b51:135-139
    epochUnit: 'ms', // cuju-kvm-share-mem.c@4b17b51:142
    gftStatus: false,
    bindsJoinPort: false, // `//assert(!gft_init(ft_join_port));`, vl.c@4b17b51:4750
    printsFtSetup: true, // migration.c@4b17b51:2970, 2701
    backupDeath: 'ft-error', // migration.c@4b17b51:2722-2724, 2753-2757
    cancel: false,
  },
};

/** QMP commands Cuju added, per build (qapi-schema.json; cuju-migrate-cancel only at 21f9f0b:4874). */
export const CUJU_QMP_COMMANDS: Readonly<Record<SimBuild, readonly string[]>> = {
  master: ['cuju-failover', 'cuju-adjust-epoch', 'cuju-migrate-cancel'],
  groupft: ['cuju-failover', 'cuju-adjust-epoch'],
  'blk-server': ['cuju-failover', 'cuju-adjust-epoch'],
};

/** VERSION in all three trees. */
export const QEMU_VERSION = '2.8.0';
export const QEMU_VERSION_TRIPLE = { major: 2, minor: 8, micro: 0 } as const;
