import type { z } from 'zod';

/**
 * `value` parsed with `schema`, or its first bad field as `where.path.to[0].field` with
 * zod's message (never the value: it may be a secret). Each caller throws its own error.
 */
export function parseOrFirstIssue<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
): { ok: true; data: z.output<S> } | { ok: false; field: string; message: string } {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, data: r.data };
  const issue = r.error.issues[0]!;
  const field = issue.path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${String(p)}`),
    where,
  );
  return { ok: false, field, message: `${field}: ${issue.message}` };
}
