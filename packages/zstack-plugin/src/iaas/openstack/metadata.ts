/**
 * The words the OpenStack adapter reads and writes on nova: the user's switch (server
 * metadata `cuju_ft`), the admin's gate (flavor extra spec `cuju:ft`), and the status
 * written back as server metadata (`cuju_ft_status`, ...), plus Masakari's key.
 * Booleans are read the way OpenStack reads them (oslo strutils.bool_from_string).
 */
import type { FtStatus } from '../../model.js';

/** Server metadata: the user's FT checkbox (Horizon's metadef, `--property cuju_ft=true`). */
export const FT_METADATA_KEY = 'cuju_ft';
/** Server metadata: Cuju's epoch in µs (optional, 1000-1000000). */
export const FT_EPOCH_METADATA_KEY = 'cuju_ft_epoch_us';
/** Flavor extra spec: the admin's gate; FT is honoured only on flavors with `cuju:ft=true`. */
export const FT_FLAVOR_SPEC = 'cuju:ft';
/** Server metadata the adapter writes: the FT state in vSphere words (`protected`, ...). */
export const FT_STATUS_KEY = 'cuju_ft_status';
/** Why it is not protected (empty when it is). */
export const FT_REASON_KEY = 'cuju_ft_reason';
/** The host of the primary and of the secondary (empty when none). */
export const FT_PRIMARY_KEY = 'cuju_ft_primary_host';
export const FT_SECONDARY_KEY = 'cuju_ft_secondary_host';
/** Masakari's value of its HA key before FT took it over (restored when FT is turned off). */
export const FT_HA_SAVED_KEY = 'cuju_ft_saved_ha';
/** Masakari's default `[host_failure|instance_failure] ha_enabled_instance_metadata_key`. */
export const MASAKARI_HA_KEY = 'HA_Enabled';

/** oslo_utils.strutils.bool_from_string(value, default=False): the values OpenStack reads as true. */
export function boolFromString(value: string | undefined): boolean {
  if (value === undefined) return false;
  return ['1', 't', 'true', 'on', 'y', 'yes'].includes(value.trim().toLowerCase());
}

/** Nova's limit on a metadata value (compute API: 255 characters). */
const MAX_VALUE = 255;

/**
 * The metadata items that tell the FT status: what users see in `openstack server show`
 * and Horizon's Metadata tab.
 */
export function statusMetadata(status: FtStatus): Record<string, string> {
  return {
    [FT_STATUS_KEY]: status.state,
    [FT_REASON_KEY]: status.state === 'protected' ? '' : (status.reason ?? '').slice(0, MAX_VALUE),
    [FT_PRIMARY_KEY]: status.primaryHost ?? '',
    [FT_SECONDARY_KEY]: status.secondaryHost ?? '',
  };
}

/** Whether the server's metadata says the adapter manages it (ticked, or ticked before). */
export function isManaged(metadata: Record<string, string>): boolean {
  return FT_METADATA_KEY in metadata || FT_STATUS_KEY in metadata;
}

/** Every key of the adapter in one place (exported from the package under this name). */
export const OPENSTACK_KEYS = {
  ftMetadata: FT_METADATA_KEY,
  epochMetadata: FT_EPOCH_METADATA_KEY,
  flavorSpec: FT_FLAVOR_SPEC,
  status: FT_STATUS_KEY,
  reason: FT_REASON_KEY,
  primaryHost: FT_PRIMARY_KEY,
  secondaryHost: FT_SECONDARY_KEY,
  savedHa: FT_HA_SAVED_KEY,
  masakariHa: MASAKARI_HA_KEY,
} as const;
