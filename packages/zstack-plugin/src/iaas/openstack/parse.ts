/** Parsing what OpenStack sends with zod, failures naming the field (`nova.servers[3].metadata`). */
import type { z } from 'zod';
import { parseOrFirstIssue } from '../../first-issue.js';
import { OpenStackError } from './errors.js';

export function parseAt<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = parseOrFirstIssue(schema, value, where);
  if (r.ok) return r.data;
  throw new OpenStackError('bad-response', r.message, { field: r.field });
}
