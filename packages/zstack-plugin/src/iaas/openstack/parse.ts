/** Parsing what OpenStack sends with zod, failures naming the field (`nova.servers[3].metadata`). */
import type { z } from 'zod';
import { OpenStackError } from './errors.js';

export function parseAt<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${String(p)}`),
    where,
  );
  throw new OpenStackError('bad-response', `${field}: ${issue.message}`, { field });
}
