/**
 * The HTTP front: fastify 5 (its logger is pino, its lifecycle gives graceful close, and
 * its content-type parsing and body limits come for free). Routes are thin: parse, call
 * FtApi, answer JSON; errors become `{error: {code, message, field?}}` with an HTTP status
 * by code. Bearer-token auth on everything but the health check, the OpenAPI document and
 * the console's static files (they hold no data).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { FtApi } from '../api.js';
import { FtServiceError, type FtsErrorCode } from '../errors.js';
import type { IaasCreated, IaasCreator } from '../iaas/create.js';
import type { ServiceMetrics } from '../metrics.js';
import type { LiveHub } from './live.js';
import { type Health, openApiDocument } from './openapi.js';

export interface HttpDeps {
  api: FtApi;
  hub: LiveHub;
  metrics: ServiceMetrics;
  health: () => Promise<z.infer<typeof Health>>;
  log: Logger;
  token: string | undefined;
  /** The built console (index.html, app.js); absent: the API only. */
  consoleDir: string | undefined;
  /** True once shutdown has begun: new writes get FTS_SHUTTING_DOWN. */
  closing: () => boolean;
  /** The IaaS adapters' names, and the one the create form goes through. */
  iaas?: { adapters: string[]; creator: IaasCreator | undefined; created: (adapter: string) => void };
}

const STATUS: Record<FtsErrorCode, number> = {
  FTS_INVALID_INPUT: 400,
  FTS_UNAUTHORIZED: 401,
  FTS_NOT_FOUND: 404,
  FTS_CONFLICT: 409,
  FTS_NO_BACKUP_HOST: 422,
  FTS_NOT_LEADER: 503,
  FTS_SHUTTING_DOWN: 503,
  FTS_FENCED: 503,
  FTS_ABORTED: 503,
  FTS_DRIVER_UNSUPPORTED: 500,
  FTS_DRIVER_FAILED: 500,
  FTS_CONFIG: 500,
  FTS_IAAS: 502,
  FTS_STORE: 500,
  FTS_INTERNAL: 500,
};

const PUBLIC = new Set(['/healthz', '/api/v1/openapi.json', '/']);
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const { api, hub, metrics, log } = deps;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Request logs carry method, URL and status (pino's default serializers): never headers or bodies.
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
  });
  const tokenDigest = deps.token ? digest(deps.token) : undefined;

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (!tokenDigest || PUBLIC.has(path) || path.startsWith('/console/')) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!), tokenDigest)) {
      return sendError(reply, new FtServiceError('FTS_UNAUTHORIZED', 'a valid bearer token is required'));
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof FtServiceError) return sendError(reply, err);
    const e = err as { statusCode?: number; code?: string; message: string };
    if (e.statusCode && e.statusCode < 500) {
      return sendError(
        reply,
        new FtServiceError('FTS_INVALID_INPUT', `body: ${e.message}`, { field: 'body' }),
      );
    }
    req.log.error({ err: e.message, code: e.code }, 'request failed');
    return sendError(reply, new FtServiceError('FTS_INTERNAL', 'internal error (see the service log)'));
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new FtServiceError('FTS_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );

  const writing = () => {
    if (deps.closing()) throw new FtServiceError('FTS_SHUTTING_DOWN', 'the service is shutting down');
  };

  app.get('/healthz', async () => deps.health());
  app.get('/api/v1/openapi.json', async () => openApiDocument());
  app.get('/api/v1/hosts', async () => api.listHosts());
  app.get('/api/v1/placement', async (req) => api.placementCheck(req.query as Record<string, unknown>));
  app.get('/api/v1/vms', async () => api.listVms());
  app.post('/api/v1/vms', async (req, reply) => {
    writing();
    reply.code(201);
    return api.createVm(req.body);
  });
  app.get<{ Params: { id: string } }>('/api/v1/vms/:id', async (req) => api.getVm(req.params.id));
  app.delete<{ Params: { id: string } }>('/api/v1/vms/:id', async (req, reply) => {
    writing();
    reply.code(202);
    return api.deleteVm(req.params.id);
  });
  app.put<{ Params: { id: string } }>('/api/v1/vms/:id/ft', async (req) => {
    writing();
    return api.putIntent(req.params.id, req.body);
  });
  app.post<{ Params: { id: string; action: string } }>(
    '/api/v1/vms/:id/actions/:action',
    async (req, reply) => {
      writing();
      reply.code(202);
      return api.action(req.params.id, req.params.action);
    },
  );
  app.get<{ Params: { id: string } }>('/api/v1/vms/:id/events', async (req) =>
    api.events(req.params.id, req.query as Record<string, unknown>),
  );
  app.get('/api/v1/iaas', async () => ({
    adapters: deps.iaas?.adapters ?? [],
    create: deps.iaas?.creator?.name ?? null,
  }));
  app.post('/api/v1/iaas/vms', async (req, reply): Promise<IaasCreated> => {
    writing();
    const iaas = deps.iaas;
    if (!iaas?.creator) throw new FtServiceError('FTS_NOT_FOUND', 'no IaaS adapter creates VMs here');
    // Only the leader syncs: a follower would create a VM nobody imports soon.
    await api.assertLeader();
    const vm = await iaas.creator.createVm(req.body as never, AbortSignal.timeout(120_000));
    iaas.created(iaas.creator.name);
    reply.code(202);
    return {
      iaas: iaas.creator.name,
      iaasId: vm.iaasId,
      id: vm.id,
      name: vm.name,
      ft: vm.ft?.enabled === true,
    };
  });
  app.get<{ Params: { id: string } }>('/api/v1/vms/:id/steps', async (req) => api.steps(req.params.id));
  app.get('/api/v1/stream', (req, reply) => {
    reply.hijack();
    hub.add(reply.raw);
    req.raw.on('close', () => reply.raw.end());
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  if (deps.consoleDir) serveConsole(app, deps.consoleDir);
  return app;
}

function serveConsole(app: FastifyInstance, dir: string): void {
  const send = (reply: FastifyReply, file: string) => {
    const path = join(dir, file);
    if (!existsSync(path))
      return sendError(reply, new FtServiceError('FTS_NOT_FOUND', `no console file ${file}`));
    reply
      .header('content-type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header(
        'content-security-policy',
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
      );
    return reply.send(readFileSync(path));
  };
  app.get('/', (_req, reply) => send(reply, 'index.html'));
  app.get<{ Params: { file: string } }>(
    '/console/:file',
    (req: FastifyRequest<{ Params: { file: string } }>, reply) => {
      const { file } = req.params;
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) {
        return sendError(reply, new FtServiceError('FTS_NOT_FOUND', 'no such console file'));
      }
      return send(reply, file);
    },
  );
}

function sendError(reply: FastifyReply, err: FtServiceError): FastifyReply {
  return reply
    .code(STATUS[err.code])
    .header('content-type', 'application/json; charset=utf-8')
    .send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
