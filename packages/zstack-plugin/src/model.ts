/**
 * The FT service's data model, as zod schemas: what a VM's FT intent is (what the user
 * asked for), what its FT status is (what is true, in vSphere FT's words), and the event
 * history. Every boundary (HTTP bodies, store rows, driver records) parses through these,
 * and the OpenAPI document is generated from them, so there is one definition of each.
 */
import { z } from 'zod';
import { FtServiceError } from './errors.js';
import { parseOrFirstIssue } from './first-issue.js';

/** VM and host identifiers: short, URL- and path-safe. */
export const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, 1-63, not starting with a dash');

export const Engine = z.enum(['cuju', 'colo']).describe('The FT engine: Cuju (epoch lockstep) or QEMU COLO.');
export type Engine = z.infer<typeof Engine>;

export const ReprotectPolicy = z
  .enum(['auto', 'manual'])
  .describe(
    'After a failover or a lost secondary: restart the secondary by itself (auto), or wait for Restart Secondary (manual).',
  );
export type ReprotectPolicy = z.infer<typeof ReprotectPolicy>;

export const Placement = z
  .object({
    /** Only these hosts may hold the secondary (empty: any). */
    allowedHosts: z.array(Id).max(64).default([]),
    /** These hosts never hold the secondary. */
    excludedHosts: z.array(Id).max(64).default([]),
    /** Taken when it qualifies. */
    preferredHost: Id.optional(),
  })
  .describe('Where the secondary may run. The primary host never qualifies; capacity is always respected.');
export type Placement = z.infer<typeof Placement>;

/** Cuju's epoch: 1 ms to 1 s, in µs (cuju-adjust-epoch takes µs). */
export const EpochUs = z.number().int().min(1_000).max(1_000_000);

export const FtIntentInput = z
  .object({
    enabled: z.boolean(),
    engine: Engine.default('cuju'),
    /** Which Cuju build runs the pair (a build name the driver knows: `master`, `groupft`). */
    build: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .default('master'),
    placement: Placement.default({ allowedHosts: [], excludedHosts: [] }),
    epochUs: EpochUs.optional(),
    reprotect: ReprotectPolicy.default('auto'),
  })
  .strict();
export type FtIntentInput = z.input<typeof FtIntentInput>;

export const FtIntent = FtIntentInput.extend({
  vmId: Id,
  /** Bumped by every change: a status says which generation it has acted on. */
  generation: z.number().int().min(1),
  updatedAt: z.iso.datetime(),
}).describe('What the user asked for: FT on or off for a VM, and how.');
export type FtIntent = z.infer<typeof FtIntent>;

export const FtState = z
  .enum(['disabled', 'starting', 'protected', 'not-protected', 'failing-over', 'failed-over'])
  .describe("vSphere FT's status words.");
export type FtState = z.infer<typeof FtState>;

export const NotProtectedReason = z
  .enum([
    // vSphere's own reasons.
    'starting',
    'need-secondary',
    'vm-not-running',
    'secondary-lost',
    // Ours.
    'no-backup-host',
    'driver-unsupported',
    'controller-restarted',
    'error',
  ])
  .describe('Why the VM is not protected (vSphere: Starting, Need Secondary VM, VM not Running).');
export type NotProtectedReason = z.infer<typeof NotProtectedReason>;

export const ReplicationFigures = z
  .object({
    epochUs: EpochUs.optional(),
    bandwidthBps: z.number().nonnegative().optional(),
    lagMs: z.number().nonnegative().optional(),
    /** Failovers since FT was turned on. */
    failovers: z.number().int().nonnegative().optional(),
    /** The last failover's detection time (primary lost to backup running), when measured. */
    lastDetectionMs: z.number().nonnegative().optional(),
  })
  .describe('Replication figures, where the engine gives them.');
export type ReplicationFigures = z.infer<typeof ReplicationFigures>;

export const FtStatus = z
  .object({
    vmId: Id,
    state: FtState,
    reason: NotProtectedReason.optional(),
    /** More words for people (an error's message, which operation is not supported). */
    detail: z.string().max(2000).optional(),
    primaryHost: Id.optional(),
    secondaryHost: Id.optional(),
    epochUs: EpochUs.optional(),
    figures: ReplicationFigures.default({}),
    lastChangeAt: z.iso.datetime(),
    /** The intent generation this status answers (0: none acted on yet). */
    observedGeneration: z.number().int().min(0),
  })
  .describe('What is true about the VM, in vSphere FT words.');
export type FtStatus = z.infer<typeof FtStatus>;

export const Host = z
  .object({
    name: Id,
    /** The address other hosts reach it at (FT links). */
    address: z.string().min(1).max(255),
    capacity: z.object({
      /** VMs (primaries and secondaries) the host may hold. */
      vms: z.number().int().min(0),
      memoryMiB: z.number().int().min(0),
    }),
    enabled: z.boolean().default(true),
  })
  .describe('A hypervisor host that can run primaries and secondaries.');
export type Host = z.infer<typeof Host>;
export type HostInput = z.input<typeof Host>;

export const VmState = z.enum(['running', 'deleting']);

export const Vm = z
  .object({
    id: Id,
    name: z.string().min(1).max(100),
    /** Where the primary was asked to run (the reconciler may record another after a failover). */
    host: Id,
    memoryMiB: z.number().int().min(16).max(1_048_576),
    desired: VmState,
    createdAt: z.iso.datetime(),
  })
  .describe('A VM the service knows.');
export type Vm = z.infer<typeof Vm>;

export const CreateVm = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/, 'letters, digits, space, dot, dash, underscore; 1-63'),
    /** The primary's host; absent: the least loaded enabled host. */
    host: Id.optional(),
    memoryMiB: z.number().int().min(16).max(1_048_576).default(256),
    /** The "Fault tolerance" checkbox and its options. */
    ft: FtIntentInput.default({
      enabled: false,
      engine: 'cuju',
      build: 'master',
      placement: { allowedHosts: [], excludedHosts: [] },
      reprotect: 'auto',
    }),
  })
  .strict()
  .describe('The VM create form.');
export type CreateVm = z.input<typeof CreateVm>;

export const EventKind = z.enum(['vm', 'intent', 'status', 'step', 'action', 'failover', 'leader']);
export const FtEvent = z
  .object({
    id: z.number().int().min(1),
    vmId: Id,
    at: z.iso.datetime(),
    kind: EventKind,
    message: z.string().max(4000),
    /** A status event carries its new state; a step event its kind and outcome. */
    data: z.record(z.string(), z.unknown()).default({}),
  })
  .describe('One entry of a VM history.');
export type FtEvent = z.infer<typeof FtEvent>;

export const ActionName = z.enum(['turn-on', 'turn-off', 'test-failover', 'restart-secondary']);
export type ActionName = z.infer<typeof ActionName>;

export const VmView = z
  .object({ vm: Vm, intent: FtIntent, status: FtStatus })
  .describe('A VM with its FT intent and status.');
export type VmView = z.infer<typeof VmView>;

export const PlacementCheck = z
  .object({
    qualifies: z.boolean(),
    /** Why no host qualifies (for the disabled checkbox). */
    reason: z.string().optional(),
    candidates: z.array(Id),
  })
  .describe('Whether FT can be turned on for a VM on this primary host.');
export type PlacementCheck = z.infer<typeof PlacementCheck>;

/**
 * Parses `value` with `schema`, or throws FTS_INVALID_INPUT naming the first bad field as
 * `where.path.to[0].field`. Values are not echoed (they may be secrets).
 */
export function parseAt<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = parseOrFirstIssue(schema, value, where);
  if (r.ok) return r.data;
  throw new FtServiceError('FTS_INVALID_INPUT', r.message, { field: r.field });
}

export const nowIso = (): string => new Date().toISOString();

/**
 * What the reconciler does to a VM, one step at a time (plans are data): `launch` (a VM
 * without FT), `protect` (a VM and its secondary, FT on), `turn-on`, `turn-off`,
 * `restart-secondary`, `test-failover`, `attach` (find the VMs of a record again, after a
 * restart or a takeover), `stop`.
 */
export const StepKind = z.enum([
  'launch',
  'protect',
  'turn-on',
  'turn-off',
  'restart-secondary',
  'test-failover',
  'attach',
  'stop',
]);
export type StepKind = z.infer<typeof StepKind>;

export const StepParams = z.object({
  primaryHost: Id.optional(),
  secondaryHost: Id.optional(),
  /** The user request (Test Failover, Restart Secondary) this step carries out. */
  requestId: z.number().int().optional(),
  /** The intent generation it acts on. */
  generation: z.number().int().min(0),
  /** Why the planner chose it, for people. */
  why: z.string(),
});
export type StepParams = z.infer<typeof StepParams>;

/**
 * `started` is written BEFORE the step acts; a step found `started` after a crash is
 * resumed by checking the world (attach), then closed as `recovered` (it had taken
 * effect) or `interrupted` (it had not), never run again blindly.
 */
export const StepState = z.enum(['started', 'done', 'failed', 'recovered', 'interrupted']);
export type StepState = z.infer<typeof StepState>;

export const Step = z
  .object({
    id: z.number().int().min(1),
    vmId: Id,
    kind: StepKind,
    params: StepParams,
    state: StepState,
    /** The fencing token of the leader that took it. */
    fence: z.number().int(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().optional(),
    error: z.string().optional(),
  })
  .describe('One entry of the step journal.');
export type Step = z.infer<typeof Step>;

/** A step the planner proposes, before the journal gives it an id. */
export interface PlannedStep {
  vmId: string;
  kind: StepKind;
  params: StepParams;
}

export const ActionRequest = z
  .object({
    id: z.number().int().min(1),
    vmId: Id,
    action: z.enum(['test-failover', 'restart-secondary']),
    state: z.enum(['pending', 'done', 'failed']),
    createdAt: z.iso.datetime(),
    stepId: z.number().int().optional(),
    error: z.string().optional(),
  })
  .describe('A one-shot user action (Test Failover, Restart Secondary) waiting for the reconciler.');
export type ActionRequest = z.infer<typeof ActionRequest>;
