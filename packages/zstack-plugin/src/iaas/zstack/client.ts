/**
 * A small client of ZStack's REST API (`/zstack/v1/...`), as `RestServer` serves it:
 * LogInByAccount with the SHA-512 hex digest of the password (what zstack-cli sends),
 * `Authorization: OAuth <session uuid>` on every other call, queries as `q=` conditions,
 * and every call that is not a sync call answered 202 + `{location}` and polled there
 * (202: still running; 200: the result; 503: `{error}`) until it ends or the deadline.
 * A session that expired (ID.1001) is renewed once by logging in again.
 */
import { createHash } from 'node:crypto';
import { FtServiceError, messageOf } from '../../errors.js';
import type { ZStackApiResponse, ZStackErrorCode, ZStackSession } from './shapes.js';

/** Where the management node is and who logs in. */
export interface ZStackClientOptions {
  /** The management node's base URL, with or without `/zstack` (`http://mn:8080/zstack`). */
  url: string;
  accountName: string;
  /** The plain password: only its SHA-512 digest is sent. */
  password: string;
  /** The deadline of one call, polling included (default 60,000 ms). */
  timeoutMs?: number;
  /** The first wait between two polls of a job (default 100 ms; doubles up to 1000 ms). */
  pollMs?: number;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/** One `q=` condition: `name<op>value` with ZStack's operators. */
export type ZStackCondition = string;

/** ZStack's query options besides the conditions. */
export interface ZStackQuery {
  q?: ZStackCondition[];
  limit?: number;
  start?: number;
  replyWithCount?: boolean;
}

/** The SHA-512 hex digest ZStack compares account passwords with. */
export function zstackPasswordDigest(password: string): string {
  return createHash('sha512').update(password, 'utf8').digest('hex');
}

export class ZStackClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private readonly fetchFn: typeof fetch;
  private session: Promise<string> | undefined;

  constructor(private readonly options: ZStackClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new FtServiceError('FTS_INVALID_INPUT', `zstack.url: not a URL`, { field: 'zstack.url' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FtServiceError('FTS_INVALID_INPUT', 'zstack.url: http or https only', {
        field: 'zstack.url',
      });
    }
    if (!options.accountName) {
      throw new FtServiceError('FTS_INVALID_INPUT', 'zstack.accountName: required', {
        field: 'zstack.accountName',
      });
    }
    const path = url.pathname.replace(/\/+$/, '');
    this.base = `${url.origin}${path.endsWith('/zstack') ? path : `${path}/zstack`}`;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.pollMs = options.pollMs ?? 100;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** The API root (`http://mn:8080/zstack`). */
  get baseUrl(): string {
    return this.base;
  }

  /** Logs in (again) and returns the session uuid. */
  async login(signal?: AbortSignal): Promise<string> {
    const body = {
      logInByAccount: {
        accountName: this.options.accountName,
        password: zstackPasswordDigest(this.options.password),
      },
    };
    const res = await this.call('PUT', '/v1/accounts/login', { body, signal, auth: false });
    const inv = res.inventory as ZStackSession | undefined;
    if (!inv || typeof inv.uuid !== 'string')
      throw iaasError('LogInByAccount answered without inventory.uuid');
    return inv.uuid;
  }

  /** Logs the session out (best effort). */
  async logout(signal?: AbortSignal): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (!s) return;
    const uuid = await s.catch(() => undefined);
    if (!uuid) return;
    await this.call('DELETE', `/v1/accounts/sessions/${encodeURIComponent(uuid)}`, {
      signal,
      auth: false,
    }).catch(() => {});
  }

  /** A query (`GET path?q=...`): the reply's `inventories`. */
  async query<T>(path: string, query: ZStackQuery = {}, signal?: AbortSignal): Promise<T[]> {
    const params = new URLSearchParams();
    for (const c of query.q ?? []) params.append('q', c);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.start !== undefined) params.set('start', String(query.start));
    if (query.replyWithCount) params.set('replyWithCount', 'true');
    const qs = params.toString();
    const res = await this.authed('GET', qs ? `${path}?${qs}` : path, undefined, signal);
    const inv = res.inventories;
    if (!Array.isArray(inv)) throw iaasError(`GET ${path} answered without inventories`);
    return inv as T[];
  }

  /** A create/action/delete call: 202 and its job polled to the end; the job's result. */
  async request(
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<ZStackApiResponse> {
    return this.authed(method, path, body, signal);
  }

  private async authed(method: string, path: string, body: unknown, signal?: AbortSignal) {
    try {
      return await this.call(method, path, { body, signal, auth: true });
    } catch (err) {
      // An expired or revoked session: log in once more and repeat the call.
      if (err instanceof ZStackApiError && err.zstackCode === 'ID.1001') {
        this.session = undefined;
        return this.call(method, path, { body, signal, auth: true });
      }
      throw err;
    }
  }

  private sessionUuid(signal?: AbortSignal): Promise<string> {
    if (!this.session) {
      const p = this.login(signal);
      this.session = p;
      p.catch(() => {
        if (this.session === p) this.session = undefined;
      });
    }
    return this.session;
  }

  private async call(
    method: string,
    path: string,
    o: { body?: unknown; signal?: AbortSignal | undefined; auth: boolean },
  ): Promise<ZStackApiResponse> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (o.auth) headers.authorization = `OAuth ${await this.sessionUuid(signal)}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
    const what = `${method} ${path.split('?')[0]}`;
    let res = await this.send(`${this.base}${path}`, { method, headers, signal, body: o.body }, what);
    if (res.status === 202) {
      const location = res.body.location;
      if (typeof location !== 'string') throw iaasError(`${what}: 202 without a job location`);
      const jobUrl = this.jobUrl(location, what);
      let wait = this.pollMs;
      for (;;) {
        await sleep(wait, signal, what);
        wait = Math.min(wait * 2, 1000);
        res = await this.send(jobUrl, { method: 'GET', headers: pickAuth(headers), signal }, `${what} (job)`);
        if (res.status !== 202) break;
      }
    }
    if (res.status === 200) return res.body;
    if (res.body.error) throw new ZStackApiError(what, res.status, res.body.error);
    throw iaasError(`${what}: HTTP ${res.status}${res.text ? `: ${res.text.slice(0, 200)}` : ''}`);
  }

  /** The job's URL: the location ZStack gave, on the origin this client talks to (the MN may name itself otherwise). */
  private jobUrl(location: string, what: string): string {
    let u: URL;
    try {
      u = new URL(location, this.base);
    } catch {
      throw iaasError(`${what}: the job location is not a URL`);
    }
    const m = /\/v1\/api-jobs\/([^/?#]+)$/.exec(u.pathname);
    if (!m) throw iaasError(`${what}: the job location ${u.pathname} is not /v1/api-jobs/{uuid}`);
    return `${this.base}/v1/api-jobs/${m[1]}`;
  }

  private async send(
    url: string,
    init: { method: string; headers: Record<string, string>; signal: AbortSignal; body?: unknown },
    what: string,
  ): Promise<{ status: number; body: ZStackApiResponse; text: string }> {
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method: init.method,
        headers: init.headers,
        signal: init.signal,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
    } catch (err) {
      if (init.signal.aborted) {
        throw new FtServiceError('FTS_ABORTED', `${what}: ${messageOf(init.signal.reason ?? err)}`, {
          cause: err,
        });
      }
      throw iaasError(`${what}: the management node cannot be reached: ${messageOf(err)}`, err);
    }
    const text = await res.text();
    let body: ZStackApiResponse = {};
    if (text.trim().startsWith('{')) {
      try {
        body = JSON.parse(text) as ZStackApiResponse;
      } catch {
        throw iaasError(`${what}: HTTP ${res.status} with a body that is not JSON`);
      }
    }
    return { status: res.status, body, text };
  }
}

/** A ZStack API error: the HTTP status and ZStack's ErrorCode. */
export class ZStackApiError extends FtServiceError {
  /** ZStack's error code (`SYS.1000`, `ID.1001`...). */
  readonly zstackCode: string;
  readonly httpStatus: number;
  constructor(what: string, httpStatus: number, error: ZStackErrorCode) {
    super(
      'FTS_IAAS',
      `${what}: ZStack ${error.code}: ${error.description ?? ''}${error.details ? ` (${error.details})` : ''}`,
    );
    this.zstackCode = error.code;
    this.httpStatus = httpStatus;
  }
}

function iaasError(message: string, cause?: unknown): FtServiceError {
  return new FtServiceError('FTS_IAAS', message, cause === undefined ? undefined : { cause });
}

function pickAuth(h: Record<string, string>): Record<string, string> {
  return h.authorization
    ? { accept: 'application/json', authorization: h.authorization }
    : { accept: 'application/json' };
}

function sleep(ms: number, signal: AbortSignal, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new FtServiceError('FTS_ABORTED', `${what}: ${messageOf(signal.reason)}`));
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(new FtServiceError('FTS_ABORTED', `${what}: ${messageOf(signal.reason)}`));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
