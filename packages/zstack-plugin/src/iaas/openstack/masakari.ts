/**
 * Keeping FT VMs out of Masakari's recovery. Masakari (instance HA by restart/evacuate)
 * must not "recover" a VM that Cuju already keeps running on its secondary, or both would
 * act on one guest. Masakari's engine decides per instance from server metadata, in
 * `masakari/engine/drivers/taskflow/{host_failure,instance_failure}.py`:
 *
 * - host failure (`PrepareHAEnabledInstancesTask`): an instance is HA-enabled when
 *   `strutils.bool_from_string(metadata.get(key, False))` with
 *   `key = [host_failure] ha_enabled_instance_metadata_key` (default `HA_Enabled`);
 *   with `[host_failure] evacuate_all_instances = True` (Masakari's DEFAULT) every
 *   instance is evacuated, HA-enabled ones first; with `False` only HA-enabled ones.
 * - instance failure (`StopInstanceTask`): skipped unless HA-enabled (same rule, key
 *   `[instance_failure] ha_enabled_instance_metadata_key`) or
 *   `[instance_failure] process_all_instances = True` (default False).
 *
 * So the adapter writes `HA_Enabled=False` on every FT VM, and the operator must set
 * `[host_failure] evacuate_all_instances = False` and keep
 * `[instance_failure] process_all_instances = False`: with Masakari's defaults a host
 * failure would still evacuate FT VMs (README, "OpenStack: Masakari").
 */
import { boolFromString } from './metadata.js';

/** The Masakari options that decide (their names in masakari.conf). */
export interface MasakariConf {
  /** `[host_failure] evacuate_all_instances` (default True). */
  evacuateAllInstances: boolean;
  /** `[instance_failure] process_all_instances` (default False). */
  processAllInstances: boolean;
  /** `ha_enabled_instance_metadata_key` (default `HA_Enabled`). */
  haKey: string;
}

/** Masakari's own defaults (masakari/conf/engine_driver.py). */
export const MASAKARI_DEFAULTS: MasakariConf = {
  evacuateAllInstances: true,
  processAllInstances: false,
  haKey: 'HA_Enabled',
};

/** Masakari's decision for one instance, as its task flows compute it. */
export function masakariRecovers(
  metadata: Record<string, string>,
  failure: 'host' | 'instance',
  conf: MasakariConf = MASAKARI_DEFAULTS,
): boolean {
  const haEnabled = boolFromString(metadata[conf.haKey]);
  if (failure === 'host') return haEnabled || conf.evacuateAllInstances;
  return haEnabled || conf.processAllInstances;
}
