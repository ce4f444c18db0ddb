/**
 * The REST API's OpenAPI 3.1 document, generated from the model's zod schemas (so the
 * document, the validation and the types cannot drift apart). Served at
 * /api/v1/openapi.json; the tests validate every response against it.
 */
import { z } from 'zod';
import {
  ActionRequest,
  CreateVm,
  FtEvent,
  FtIntentInput,
  FtStatus,
  Host,
  PlacementCheck,
  Step,
  VmView,
} from '../model.js';

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().regex(/^FTS_[A-Z_]+$/),
      message: z.string(),
      field: z.string().optional(),
    }),
  })
  .describe('Every error: a stable FTS_* code, words for people, and the field at fault for bad input.');

export const Health = z.object({
  ok: z.boolean(),
  role: z.enum(['leader', 'follower']),
  instance: z.string(),
  leader: z.string().optional(),
  driver: z.string(),
});

export const ActionResult = z.object({ view: VmView, request: ActionRequest.optional() });

/** The IaaS adapters configured, and which one the create form goes through. */
export const IaasInfo = z.object({
  adapters: z.array(z.string()),
  create: z.string().nullable(),
});

/** A VM created through the IaaS (the service imports it with its next sync). */
export const IaasCreatedBody = z.object({
  iaas: z.string(),
  iaasId: z.string(),
  id: z.string(),
  name: z.string(),
  ft: z.boolean(),
});

type Json = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as Json;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const arrayOf = (name: string, description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'array', items: ref(name) } } },
});
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), json('Error', ERROR_TEXT[c] ?? 'error')]));
const ERROR_TEXT: Record<number, string> = {
  400: 'FTS_INVALID_INPUT: bad input (the field is named)',
  401: 'FTS_UNAUTHORIZED: no or wrong bearer token',
  404: 'FTS_NOT_FOUND',
  409: 'FTS_CONFLICT: the action does not fit the VM state',
  422: 'FTS_NO_BACKUP_HOST: no host qualifies for the secondary',
  502: 'FTS_IAAS: the IaaS API refused or failed the call',
  503: 'FTS_NOT_LEADER (writes go to the leader) or FTS_SHUTTING_DOWN',
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const secured = [{ bearer: [] }];

export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cuju FT service',
      version: '1',
      description:
        'Fault tolerance for VMs, in vSphere FT words: turn FT on, see Protected or Not protected and why, ' +
        'Test Failover, Restart Secondary. Writes go to the leader instance; reads work on any.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: schema(ErrorBody, 'output'),
        Health: schema(Health, 'output'),
        Host: schema(Host, 'output'),
        VmView: schema(VmView, 'output'),
        CreateVm: schema(CreateVm, 'input'),
        FtIntentInput: schema(FtIntentInput, 'input'),
        FtStatus: schema(FtStatus, 'output'),
        FtEvent: schema(FtEvent, 'output'),
        Step: schema(Step, 'output'),
        PlacementCheck: schema(PlacementCheck, 'output'),
        ActionResult: schema(ActionResult, 'output'),
        IaasInfo: schema(IaasInfo, 'output'),
        IaasCreated: schema(IaasCreatedBody, 'output'),
      },
    },
    security: secured,
    paths: {
      '/healthz': {
        get: {
          operationId: 'health',
          security: [],
          summary: 'Liveness, and whether this instance leads',
          responses: { '200': json('Health', 'this instance') },
        },
      },
      '/api/v1/hosts': {
        get: {
          operationId: 'listHosts',
          summary: 'The hosts that can run primaries and secondaries',
          responses: { '200': arrayOf('Host', 'every host'), ...errors(401) },
        },
      },
      '/api/v1/placement': {
        get: {
          operationId: 'checkPlacement',
          summary: 'Whether FT can be turned on for a VM on this primary host (the checkbox)',
          parameters: [
            { name: 'host', in: 'query', required: false, schema: { type: 'string' } },
            { name: 'memoryMiB', in: 'query', required: false, schema: { type: 'string' } },
          ],
          responses: { '200': json('PlacementCheck', 'the verdict, and why not'), ...errors(400, 401) },
        },
      },
      '/api/v1/vms': {
        get: {
          operationId: 'listVms',
          summary: 'Every VM with its FT intent and status',
          responses: { '200': arrayOf('VmView', 'every VM'), ...errors(401) },
        },
        post: {
          operationId: 'createVm',
          summary: 'Create a VM (with the Fault tolerance checkbox)',
          requestBody: { required: true, content: { 'application/json': { schema: ref('CreateVm') } } },
          responses: {
            '201': json('VmView', 'created; the reconciler starts it'),
            ...errors(400, 401, 409, 422, 503),
          },
        },
      },
      '/api/v1/vms/{id}': {
        get: {
          operationId: 'getVm',
          parameters: [idParam],
          responses: { '200': json('VmView', 'the VM'), ...errors(400, 401, 404) },
        },
        delete: {
          operationId: 'deleteVm',
          parameters: [idParam],
          summary: 'Stop and forget the VM (its history stays)',
          responses: { '202': json('VmView', 'the reconciler stops it'), ...errors(400, 401, 404, 503) },
        },
      },
      '/api/v1/vms/{id}/ft': {
        put: {
          operationId: 'putIntent',
          parameters: [idParam],
          summary: 'Replace the FT intent',
          requestBody: { required: true, content: { 'application/json': { schema: ref('FtIntentInput') } } },
          responses: { '200': json('VmView', 'the VM with its new intent'), ...errors(400, 401, 404, 503) },
        },
      },
      '/api/v1/vms/{id}/actions/{action}': {
        post: {
          operationId: 'vmAction',
          summary: 'Turn On, Turn Off, Test Failover, Restart Secondary',
          parameters: [
            idParam,
            {
              name: 'action',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: ['turn-on', 'turn-off', 'test-failover', 'restart-secondary'] },
            },
          ],
          responses: { '202': json('ActionResult', 'accepted'), ...errors(400, 401, 404, 409, 503) },
        },
      },
      '/api/v1/vms/{id}/events': {
        get: {
          operationId: 'vmEvents',
          summary: 'The VM history, oldest first',
          parameters: [
            idParam,
            { name: 'after', in: 'query', required: false, schema: { type: 'string' } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'string' } },
          ],
          responses: { '200': arrayOf('FtEvent', 'events'), ...errors(400, 401, 404) },
        },
      },
      '/api/v1/vms/{id}/steps': {
        get: {
          operationId: 'vmSteps',
          summary: 'The step journal of the VM',
          parameters: [idParam],
          responses: { '200': arrayOf('Step', 'steps, oldest first'), ...errors(400, 401, 404) },
        },
      },
      '/api/v1/iaas': {
        get: {
          operationId: 'iaasInfo',
          summary: 'The IaaS adapters, and which one the create form goes through',
          responses: { '200': json('IaasInfo', 'the adapters'), ...errors(401) },
        },
      },
      '/api/v1/iaas/vms': {
        post: {
          operationId: 'createIaasVm',
          summary: "Create the VM in the IaaS (ZStack's CreateVmInstance, the cuju::ft tag when ticked)",
          requestBody: { required: true, content: { 'application/json': { schema: ref('CreateVm') } } },
          responses: {
            '202': json('IaasCreated', 'created in the IaaS; the service imports it with its next sync'),
            ...errors(400, 401, 404, 502, 503),
          },
        },
      },
      '/api/v1/stream': {
        get: {
          operationId: 'stream',
          summary: 'Live updates (server-sent events: status, event, step)',
          responses: {
            '200': {
              description: 'an event stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...errors(401),
          },
        },
      },
      '/api/v1/openapi.json': {
        get: {
          operationId: 'openapi',
          security: [],
          responses: {
            '200': {
              description: 'this document',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          responses: {
            '200': {
              description: 'text exposition format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            ...errors(401),
          },
        },
      },
    },
  };
}
