/** The console's view of the REST API (same origin) and its server-sent events. */
import { takeFrames } from './sse.js';

export type FtState =
  | 'disabled'
  | 'starting'
  | 'protected'
  | 'not-protected'
  | 'failing-over'
  | 'failed-over';

export interface FtStatus {
  vmId: string;
  state: FtState;
  reason?: string;
  detail?: string;
  primaryHost?: string;
  secondaryHost?: string;
  epochUs?: number;
  figures: {
    epochUs?: number;
    bandwidthBps?: number;
    lagMs?: number;
    failovers?: number;
    lastDetectionMs?: number;
  };
  lastChangeAt: string;
}

export interface VmView {
  vm: { id: string; name: string; host: string; memoryMiB: number; desired: string; createdAt: string };
  intent: {
    enabled: boolean;
    reprotect: 'auto' | 'manual';
    engine: string;
    build: string;
    generation: number;
  };
  status: FtStatus;
}

export interface Host {
  name: string;
  address: string;
  enabled: boolean;
  capacity: { vms: number; memoryMiB: number };
}

export interface FtEvent {
  id: number;
  vmId: string;
  at: string;
  kind: string;
  message: string;
}

export interface PlacementCheck {
  qualifies: boolean;
  reason?: string;
  candidates: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'fts-token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
};

function headers(json: boolean): HeadersInit {
  const t = token.get();
  return {
    ...(t ? { authorization: `Bearer ${t}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
  };
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok)
    throw new ApiError(res.status, data.error?.code ?? 'FTS_INTERNAL', data.error?.message ?? res.statusText);
  return data as T;
}

/**
 * Follows /api/v1/stream (fetch, not EventSource: the token goes in a header, never in a
 * URL). Reconnects after a second when the stream ends; stops on `signal`.
 */
export async function follow(
  onEvent: (name: string, data: unknown) => void,
  signal: AbortSignal,
  onOpen: () => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch('/api/v1/stream', { headers: headers(false), signal });
      if (res.ok && res.body) {
        onOpen();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const { events, rest } = takeFrames(buffer + value);
          buffer = rest;
          for (const e of events) onEvent(e.name, e.data);
        }
      }
    } catch {
      // Reconnect below.
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
