/**
 * The ZStack REST API's shapes this adapter reads and writes, field for field as ZStack's
 * SDK classes and `*Doc_zh_cn.groovy` files name them (`VmInstanceInventory`,
 * `HostInventory`, `UserTagInventory`, `WebhookInventory`, `SessionInventory`,
 * `ErrorCode`, `CanonicalEvent.toStructForWebhook`). Only the fields used here are listed;
 * ZStack sends more, and both the client and the fake keep whatever else comes.
 */

/** `org.zstack.header.errorcode.ErrorCode` as JSON. */
export interface ZStackErrorCode {
  code: string;
  description?: string;
  details?: string;
  elaboration?: string;
  cause?: ZStackErrorCode;
}

/** Every REST reply body (`org.zstack.rest.ApiResponse`): the mapped fields, or `error`, or `location`. */
export interface ZStackApiResponse {
  location?: string;
  error?: ZStackErrorCode;
  [field: string]: unknown;
}

/** `SessionInventory` (LogInByAccount's `inventory`). */
export interface ZStackSession {
  uuid: string;
  accountUuid?: string;
  userUuid?: string;
  expiredDate?: string;
  createDate?: string;
}

/** `VmInstanceState` values. */
export type ZStackVmState =
  | 'Created'
  | 'Starting'
  | 'Running'
  | 'Stopping'
  | 'Stopped'
  | 'Rebooting'
  | 'Destroying'
  | 'Destroyed'
  | 'Migrating'
  | 'Expunging'
  | 'Pausing'
  | 'Paused'
  | 'Resuming'
  | 'VolumeMigrating'
  | 'Crashed'
  | 'NoState'
  | 'Unknown';

/** `VmInstanceInventory` (the fields used here). */
export interface ZStackVm {
  uuid: string;
  name: string;
  description?: string;
  zoneUuid?: string;
  clusterUuid?: string;
  imageUuid?: string;
  hostUuid?: string;
  lastHostUuid?: string;
  instanceOfferingUuid?: string;
  defaultL3NetworkUuid?: string;
  type?: string;
  hypervisorType?: string;
  /** Bytes. */
  memorySize: number;
  cpuNum?: number;
  state: ZStackVmState | string;
  createDate?: string;
  lastOpDate?: string;
}

/** `HostInventory` (the fields used here). */
export interface ZStackHost {
  uuid: string;
  name: string;
  zoneUuid?: string;
  clusterUuid: string;
  managementIp: string;
  hypervisorType?: string;
  /** `Enabled`, `Disabled`, `PreMaintenance`, `Maintenance`. */
  state: string;
  /** `Connecting`, `Connected`, `Disconnected`. */
  status: string;
  totalMemoryCapacity?: number;
  availableMemoryCapacity?: number;
}

/** `UserTagInventory` (`TagInventory`). */
export interface ZStackTag {
  uuid: string;
  resourceUuid: string;
  resourceType: string;
  tag: string;
  type?: string;
  createDate?: string;
  lastOpDate?: string;
}

/** `WebhookInventory`. */
export interface ZStackWebhook {
  uuid: string;
  name: string;
  description?: string;
  url: string;
  type: string;
  opaque?: string;
  createDate?: string;
  lastOpDate?: string;
}

/** A canonical event as the management node POSTs it to a webhook. */
export interface ZStackCanonicalEvent {
  path: string;
  content: Record<string, unknown>;
  managementNodeId?: string;
}

/** `CreateVmInstance`'s `params` (the fields used here). */
export interface ZStackCreateVmParams {
  name: string;
  instanceOfferingUuid?: string;
  cpuNum?: number;
  /** Bytes. */
  memorySize?: number;
  imageUuid: string;
  l3NetworkUuids: string[];
  clusterUuid?: string;
  hostUuid?: string;
  description?: string;
  strategy?: 'InstantStart' | 'CreateStopped';
}
