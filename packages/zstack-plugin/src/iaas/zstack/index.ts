/** The ZStack adapter: the FT checkbox as the `cuju::ft` user tag (see adapter.ts). */
export {
  ZStackAdapter,
  type ZStackAdapterOptions,
  type ZStackCreateDefaults,
  zstackBackupName,
} from './adapter.js';
export {
  ZStackApiError,
  ZStackClient,
  type ZStackClientOptions,
  type ZStackCondition,
  type ZStackQuery,
  zstackPasswordDigest,
} from './client.js';
export type * from './shapes.js';
export { FT_TAG, intentFromTags, STATUS_TAG_PREFIXES, statusTags } from './tags.js';
export { WebhookReceiver, type WebhookReceiverOptions } from './webhook.js';
