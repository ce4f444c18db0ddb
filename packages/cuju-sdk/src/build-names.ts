/**
 * The names of Cuju's builds, commands and options: plain data that imports nothing, so
 * that errors.ts can name them without importing the profiles (no import circles).
 */
export const CUJU_BUILD_NAMES = ['master', 'groupft', 'blk-server'] as const;
/** A Cuju build the SDK has a profile of: `master`, `groupft` or `blk-server`. */
export type CujuBuildName = (typeof CUJU_BUILD_NAMES)[number];

/** The HMP commands the SDK sends, by their hmp-commands.hx names. */
export type CujuCommandName =
  | 'help'
  | 'info'
  | 'migrate'
  | 'migrate_set_capability'
  | 'cuju-failover'
  | 'cuju-adjust-epoch'
  | 'cuju-migrate-cancel'
  | 'cuju-get-ft-mode'
  | 'cuju-get-ft-started'
  | 'gft_add_host'
  | 'gft_add_host2'
  | 'gft_init'
  | 'gft_add_member'
  | 'gft_add_backup'
  | 'gft_member_live_mig'
  | 'migrate_pause'
  | 'migrate_resume'
  | 'info_migrate';

/** Cuju's own command-line options (the upstream ones are the same in every build). */
export type CujuOption = '-ft-join-port' | '-gft-id' | '-blk-server' | '-blk-server-listen';
/** Every Cuju-specific command-line option, whichever build accepts it. */
export const CUJU_OPTIONS: readonly CujuOption[] = [
  '-ft-join-port',
  '-gft-id',
  '-blk-server',
  '-blk-server-listen',
];

/** The first line of `info migrate` on group-FT builds. */
export type GftStatus = 'PRE' | 'START' | 'WAIT';
