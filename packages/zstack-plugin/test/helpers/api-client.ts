/**
 * An HTTP client for the tests that validates EVERY response against the service's own
 * OpenAPI document (ajv, JSON Schema 2020-12): the status must be documented for the
 * operation, and a JSON body must match its schema. It also records which documented
 * operations were called, so a test file can check it exercised all of them.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { takeFrames } from '../../console/sse.js';
import { openApiDocument } from '../../src/index.js';

type Json = Record<string, unknown>;
const DOC_ID = 'https://cuju.invalid/fts-openapi';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiClient {
  readonly doc = openApiDocument() as { paths: Record<string, Record<string, Json>>; components: Json };
  readonly called = new Set<string>();
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  private readonly routes: Array<{ template: string; re: RegExp }>;

  constructor(
    readonly base: string,
    private readonly token?: string,
  ) {
    this.ajv.addSchema({ $id: DOC_ID, components: this.doc.components });
    this.routes = Object.keys(this.doc.paths).map((template) => ({
      template,
      re: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
  }

  async call<T = unknown>(
    method: string,
    path: string,
    options: { body?: unknown; rawBody?: string; token?: string | null } = {},
  ): Promise<ApiResponse<T>> {
    const token = options.token === undefined ? this.token : options.token;
    const res = await fetch(this.base + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(options.body !== undefined || options.rawBody !== undefined
          ? { 'content-type': 'application/json' }
          : {}),
      },
      ...(options.rawBody !== undefined
        ? { body: options.rawBody }
        : options.body !== undefined
          ? { body: JSON.stringify(options.body) }
          : {}),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const body = type.includes('application/json') ? JSON.parse(text) : text;
    this.check(method, path, res.status, type, body);
    return { status: res.status, body: body as T, headers: res.headers };
  }

  /** Throws when the response is not what the document says. */
  check(method: string, path: string, status: number, contentType: string, body: unknown): void {
    const route = this.routes.find((r) => r.re.test(path.split('?')[0]!));
    if (!route) throw new Error(`${method} ${path}: not in the OpenAPI document`);
    const op = this.doc.paths[route.template]![method.toLowerCase()] as Json | undefined;
    if (!op) throw new Error(`${method} ${route.template}: not in the OpenAPI document`);
    this.called.add(`${method.toUpperCase()} ${route.template}`);
    const responses = op.responses as Record<string, { content?: Record<string, { schema: Json }> }>;
    const doc = responses[String(status)];
    if (!doc)
      throw new Error(
        `${method} ${path}: status ${status} is not documented (body: ${JSON.stringify(body)})`,
      );
    const [mediaType, media] = Object.entries(doc.content ?? {})[0] ?? [];
    if (!mediaType || !media) return;
    if (
      !contentType.startsWith(mediaType) &&
      !(mediaType === 'text/plain' && contentType.startsWith('text/plain'))
    ) {
      throw new Error(`${method} ${path}: content-type ${contentType}, documented ${mediaType}`);
    }
    if (mediaType !== 'application/json') return;
    const schema = JSON.parse(
      JSON.stringify(media.schema).replaceAll('"#/components/', `"${DOC_ID}#/components/`),
    );
    const validate = this.ajv.compile(schema);
    if (!validate(body)) {
      throw new Error(
        `${method} ${path} ${status}: body does not match the document: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
      );
    }
  }

  /** The documented operations never called. */
  uncovered(): string[] {
    const all = Object.entries(this.doc.paths).flatMap(([t, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${t}`),
    );
    return all.filter((o) => !this.called.has(o));
  }
}

/** Reads server-sent events from a stream until `until` returns true for one (or the deadline). */
export async function readEvents(
  url: string,
  token: string | undefined,
  until: (name: string, data: unknown) => boolean,
  options: { timeoutMs?: number; onOpen?: () => Promise<void> } = {},
): Promise<Array<{ name: string; data: unknown }>> {
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new Error('no matching event in time')),
    options.timeoutMs ?? 60_000,
  );
  const seen: Array<{ name: string; data: unknown }> = [];
  try {
    const res = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: ac.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`stream answered ${res.status}`);
    if (!res.headers.get('content-type')?.startsWith('text/event-stream'))
      throw new Error('not an event stream');
    await options.onOpen?.();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return seen;
      const { events, rest } = takeFrames(buffer + value);
      buffer = rest;
      for (const e of events) {
        seen.push(e);
        if (until(e.name, e.data)) {
          await reader.cancel();
          return seen;
        }
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}
