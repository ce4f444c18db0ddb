/** The OpenStack adapter (Keystone v3, nova compute API, versioned notifications on RabbitMQ). */
export {
  foldStatus,
  OpenStackAdapter,
  type OpenStackAdapterOptions,
  type OpenStackCreateDefaults,
  openstackBackupName,
} from './adapter.js';
export { OpenStackError, type OpenStackErrorReason } from './errors.js';
export {
  credentialsFromEnv,
  KeystoneSession,
  type KeystoneSessionOptions,
  type KeystoneToken,
  type OpenStackCredentials,
  validateToken,
} from './keystone.js';
export { MASAKARI_DEFAULTS, type MasakariConf, masakariRecovers } from './masakari.js';
export {
  boolFromString,
  FT_EPOCH_METADATA_KEY,
  FT_FLAVOR_SPEC,
  FT_HA_SAVED_KEY,
  FT_METADATA_KEY,
  FT_PRIMARY_KEY,
  FT_REASON_KEY,
  FT_SECONDARY_KEY,
  FT_STATUS_KEY,
  isManaged,
  MASAKARI_HA_KEY,
  statusMetadata,
} from './metadata.js';
export {
  hintOf,
  type NotificationHintOptions,
  type NotificationSource,
  notificationHints,
  OsloNotification,
  parseOsloMessage,
} from './notifications.js';
export {
  NOVA_MICROVERSION,
  NovaClient,
  type NovaClientOptions,
  NovaHypervisor,
  NovaServer,
  type NovaServerCreate,
  NovaZone,
} from './nova.js';
