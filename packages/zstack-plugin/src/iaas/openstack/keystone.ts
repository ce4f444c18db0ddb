/**
 * A Keystone v3 session: password authentication scoped to a project, the token kept
 * and renewed before it expires (or at once when an API says 401), and the service
 * catalog read for endpoints. The token travels as `X-Auth-Token`; it is never logged.
 */
import { z } from 'zod';
import { OpenStackError } from './errors.js';
import { httpJson, unexpected } from './http.js';
import { parseAt } from './parse.js';

/** Who the adapter is to Keystone: the `OS_*` variables of an openrc file. */
export interface OpenStackCredentials {
  /** `OS_AUTH_URL`, the identity v3 endpoint (`http://keystone:5000/v3`; a bare root gets `/v3`). */
  authUrl: string;
  username: string;
  password: string;
  /** `OS_USER_DOMAIN_NAME` (default `Default`). */
  userDomainName?: string;
  projectName: string;
  /** `OS_PROJECT_DOMAIN_NAME` (default `Default`). */
  projectDomainName?: string;
  /** `OS_REGION_NAME`: the catalog region (default: any). */
  regionName?: string;
  /** `OS_INTERFACE`: which catalog endpoint (default `public`). */
  interface?: 'public' | 'internal' | 'admin';
}

/**
 * Credentials from `OS_*` environment variables (an openrc file), or undefined when
 * `OS_AUTH_URL` is not set. A set `OS_AUTH_URL` with a missing variable is an error naming it.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenStackCredentials | undefined {
  const authUrl = env.OS_AUTH_URL;
  if (!authUrl) return undefined;
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new OpenStackError('config', `${name} is not set (OS_AUTH_URL is)`, { field: name });
    return v;
  };
  const iface = env.OS_INTERFACE?.replace(/URL$/, '');
  if (iface !== undefined && iface !== 'public' && iface !== 'internal' && iface !== 'admin') {
    throw new OpenStackError('config', 'OS_INTERFACE: public, internal or admin', { field: 'OS_INTERFACE' });
  }
  return {
    authUrl,
    username: need('OS_USERNAME'),
    password: need('OS_PASSWORD'),
    projectName: env.OS_PROJECT_NAME ?? need('OS_TENANT_NAME'),
    userDomainName: env.OS_USER_DOMAIN_NAME ?? 'Default',
    projectDomainName: env.OS_PROJECT_DOMAIN_NAME ?? 'Default',
    ...(env.OS_REGION_NAME ? { regionName: env.OS_REGION_NAME } : {}),
    ...(iface ? { interface: iface } : {}),
  };
}

const Endpoint = z.object({
  interface: z.string(),
  region: z.string().nullish(),
  region_id: z.string().nullish(),
  url: z.string().url(),
});
const TokenBody = z.object({
  token: z.object({
    expires_at: z.string(),
    catalog: z
      .array(z.object({ type: z.string(), name: z.string().optional(), endpoints: z.array(Endpoint) }))
      .default([]),
    project: z.object({ id: z.string(), name: z.string() }).optional(),
    user: z.object({ id: z.string(), name: z.string() }),
    roles: z.array(z.object({ name: z.string() })).default([]),
  }),
});
type TokenBody = z.infer<typeof TokenBody>;

/** A valid token and what came with it. */
export interface KeystoneToken {
  id: string;
  expiresAt: Date;
  userId: string;
  projectId: string | undefined;
  roles: string[];
}

/** Deadlines of a {@link KeystoneSession}. */
export interface KeystoneSessionOptions {
  /** Per-request deadline (default 15 s). */
  timeoutMs?: number;
  /** Renew this long before expiry (default 120 s: a request started just before expiry must not fail). */
  renewBeforeMs?: number;
}

/** One Keystone user's project-scoped token, kept valid; the service catalog that came with it. */
export class KeystoneSession {
  /** The identity v3 URL (`.../v3`). */
  readonly authUrl: string;
  private current: { token: KeystoneToken; body: TokenBody } | undefined;
  private pending: Promise<{ token: KeystoneToken; body: TokenBody }> | undefined;
  private readonly timeoutMs: number;
  private readonly renewBeforeMs: number;

  constructor(
    readonly credentials: OpenStackCredentials,
    options: KeystoneSessionOptions = {},
  ) {
    let url: URL;
    try {
      url = new URL(credentials.authUrl);
    } catch {
      throw new OpenStackError('config', `authUrl is not a URL: ${credentials.authUrl}`, {
        field: 'authUrl',
      });
    }
    const path = url.pathname.replace(/\/+$/, '');
    this.authUrl = `${url.origin}${path.endsWith('/v3') ? path : `${path}/v3`}`;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.renewBeforeMs = options.renewBeforeMs ?? 120_000;
  }

  /** A token valid for at least `renewBeforeMs` more (one authentication at a time). */
  async token(signal?: AbortSignal): Promise<KeystoneToken> {
    if (signal?.aborted) throw new OpenStackError('aborted', 'keystone: aborted');
    return (await this.session(signal)).token;
  }

  /** Forgets the token (an API said 401: it was revoked or the keys rotated). */
  invalidate(): void {
    this.current = undefined;
  }

  /**
   * The URL of a service from the catalog: `type` (`compute`), the credentials' interface
   * and region. Throws `no-endpoint` naming what was looked for.
   */
  async endpoint(type: string, signal?: AbortSignal): Promise<string> {
    const { body } = await this.session(signal);
    const iface = this.credentials.interface ?? 'public';
    const region = this.credentials.regionName;
    const service = body.token.catalog.find((s) => s.type === type);
    const ep = service?.endpoints.find(
      (e) => e.interface === iface && (region === undefined || e.region_id === region || e.region === region),
    );
    if (!ep) {
      throw new OpenStackError(
        'no-endpoint',
        `the service catalog has no ${iface} ${type} endpoint${region ? ` in region ${region}` : ''}`,
        { field: 'catalog' },
      );
    }
    return ep.url.replace(/\/+$/, '');
  }

  private async session(signal?: AbortSignal): Promise<{ token: KeystoneToken; body: TokenBody }> {
    const c = this.current;
    if (c && c.token.expiresAt.getTime() - Date.now() > this.renewBeforeMs) return c;
    // Concurrent callers share one authentication; an aborted caller does not abort it for others.
    this.pending ??= this.authenticate().finally(() => {
      this.pending = undefined;
    });
    const p = this.pending;
    if (!signal) return p;
    if (signal.aborted) throw new OpenStackError('aborted', 'keystone: aborted');
    return Promise.race([
      p,
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(new OpenStackError('aborted', 'keystone: aborted')), {
          once: true,
        }),
      ),
    ]);
  }

  private async authenticate(): Promise<{ token: KeystoneToken; body: TokenBody }> {
    const cr = this.credentials;
    const res = await httpJson({
      method: 'POST',
      url: `${this.authUrl}/auth/tokens`,
      timeoutMs: this.timeoutMs,
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: cr.username,
                domain: { name: cr.userDomainName ?? 'Default' },
                password: cr.password,
              },
            },
          },
          scope: { project: { name: cr.projectName, domain: { name: cr.projectDomainName ?? 'Default' } } },
        },
      },
    });
    if (res.status !== 201) unexpected(`keystone: authenticating ${cr.username}`, res);
    const id = res.headers.get('x-subject-token');
    if (!id)
      throw new OpenStackError('bad-response', 'keystone: 201 without X-Subject-Token', {
        field: 'X-Subject-Token',
      });
    const body = parseAt(TokenBody, res.body, 'keystone.auth.tokens');
    const expiresAt = new Date(body.token.expires_at);
    if (Number.isNaN(expiresAt.getTime())) {
      throw new OpenStackError('bad-response', 'keystone: token.expires_at is not a date', {
        field: 'token.expires_at',
      });
    }
    const token: KeystoneToken = {
      id,
      expiresAt,
      userId: body.token.user.id,
      projectId: body.token.project?.id,
      roles: body.token.roles.map((r) => r.name),
    };
    this.current = { token, body };
    return this.current;
  }
}

/**
 * Validates `subject` with Keystone (`GET /v3/auth/tokens`, as keystonemiddleware does for
 * a service), authenticated by `session`'s own token. Undefined: Keystone says the token is
 * not valid (404) or not allowed.
 */
export async function validateToken(
  session: KeystoneSession,
  subject: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<KeystoneToken | undefined> {
  const own = await session.token(options.signal);
  const res = await httpJson({
    method: 'GET',
    url: `${session.authUrl}/auth/tokens`,
    headers: { 'x-auth-token': own.id, 'x-subject-token': subject },
    timeoutMs: options.timeoutMs ?? 15_000,
    signal: options.signal,
  });
  if (res.status === 404 || res.status === 401) return undefined;
  if (res.status !== 200) unexpected('keystone: validating a token', res);
  const body = parseAt(TokenBody, res.body, 'keystone.auth.tokens');
  return {
    id: subject,
    expiresAt: new Date(body.token.expires_at),
    userId: body.token.user.id,
    projectId: body.token.project?.id,
    roles: body.token.roles.map((r) => r.name),
  };
}
