/**
 * One HTTP exchange with an OpenStack API: a deadline on every request (nothing hangs),
 * the caller's AbortSignal honoured, JSON in and out, and failures as OpenStackErrors
 * (the body's message kept, cut short: OpenStack puts the useful words there).
 */
import { OpenStackError } from './errors.js';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
}

export async function httpJson(req: HttpRequest): Promise<HttpResponse> {
  try {
    return await exchange(req);
  } catch (err) {
    // A kept-alive connection the server had just closed: the request never reached it.
    // Once more on a fresh connection (reads and idempotent writes only).
    if (
      req.method !== 'POST' &&
      err instanceof OpenStackError &&
      err.reason === 'unreachable' &&
      resetBeforeAnswer(err)
    )
      return exchange(req);
    throw err;
  }
}

function resetBeforeAnswer(err: OpenStackError): boolean {
  for (let c: unknown = err.cause; c instanceof Error; c = c.cause) {
    const code = (c as { code?: unknown }).code;
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return true;
  }
  return false;
}

async function exchange(req: HttpRequest): Promise<HttpResponse> {
  if (req.signal?.aborted) throw new OpenStackError('aborted', `${req.method} ${req.url}: aborted`);
  const signal = req.signal
    ? AbortSignal.any([req.signal, AbortSignal.timeout(req.timeoutMs)])
    : AbortSignal.timeout(req.timeoutMs);
  let res: Response;
  let text: string;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: {
        accept: 'application/json',
        ...(req.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...req.headers,
      },
      ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
      signal,
    });
    text = await res.text();
  } catch (err) {
    if (req.signal?.aborted)
      throw new OpenStackError('aborted', `${req.method} ${req.url}: aborted`, { cause: err });
    const why = signal.aborted ? `no answer in ${req.timeoutMs} ms` : (err as Error).message;
    throw new OpenStackError('unreachable', `${req.method} ${req.url}: ${why}`, { cause: err });
  }
  let body: unknown;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      // Some errors come back as text/plain or HTML; keep the words for the message.
      body = text;
    }
  }
  return { status: res.status, headers: res.headers, body };
}

/** The words an OpenStack error body carries (`{"itemNotFound": {"message": ...}}`, `{"error": {...}}`). */
export function errorMessage(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 300);
  if (body && typeof body === 'object') {
    for (const v of Object.values(body)) {
      if (v && typeof v === 'object' && 'message' in v)
        return String((v as { message: unknown }).message).slice(0, 300);
    }
  }
  return '';
}

/** Throws the OpenStackError that fits a status the caller did not expect. */
export function unexpected(what: string, res: HttpResponse): never {
  const words = errorMessage(res.body);
  const message = `${what}: HTTP ${res.status}${words ? `: ${words}` : ''}`;
  if (res.status === 401 || res.status === 403)
    throw new OpenStackError('auth', message, { status: res.status });
  if (res.status === 404) throw new OpenStackError('not-found', message, { status: res.status });
  throw new OpenStackError('http', message, { status: res.status });
}
