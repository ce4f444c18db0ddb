/**
 * Commands that legitimately take longer than a query. Values follow what production
 * clients settled on (Proxmox's QMPClient, incus): device and object changes wait on the
 * main loop and block layer, block jobs and migration queries can stall for minutes.
 */
export const DEFAULT_COMMAND_TIMEOUTS: Readonly<Record<string, number>> = {
  'query-qmp-schema': 30_000,
  device_add: 60_000,
  device_del: 60_000,
  'blockdev-add': 60_000,
  'blockdev-del': 60_000,
  'object-add': 60_000,
  'object-del': 60_000,
  netdev_add: 60_000,
  netdev_del: 60_000,
  'query-migrate': 60_000,
  migrate: 60_000,
  'human-monitor-command': 60_000,
  'drive-mirror': 600_000,
  'blockdev-mirror': 600_000,
  'block-commit': 600_000,
  'query-block-jobs': 600_000,
  'guest-fsfreeze-freeze': 3_600_000,
};

/** The per-command deadline when nothing else names one: 10 000 ms. */
export const DEFAULT_TIMEOUT_MS = 10_000;
