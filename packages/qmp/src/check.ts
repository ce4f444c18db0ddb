import { QmpArgumentError } from './errors.js';

/**
 * Run-time checks of what callers pass in. TypeScript types vanish at run time, and a
 * caller in JavaScript (or with `as any`) must get a QmpArgumentError naming the field,
 * never a bare TypeError from deep inside, and never a half-sent command.
 */

/** A short description of a value for a message (strings are cut, never shown whole). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `the ${typeof value} ${String(value)}${typeof value === 'bigint' ? 'n' : ''}`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return Array.isArray(value) ? 'an array' : 'an object';
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `undefined` becomes `{}`; anything else that is not an object is refused. */
export function optionsObject(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw new QmpArgumentError(field, `must be an object, got ${describeValue(value)}`);
  return value;
}

/** A deadline: a non-negative number of milliseconds, or Infinity for none. */
export function checkTimeoutMs(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new QmpArgumentError(
      field,
      `must be a non-negative number of milliseconds (or Infinity), got ${describeValue(value)}`,
    );
  }
  return value;
}

export function checkSignal(value: unknown, field: string): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const s = value as AbortSignal;
  // Duck-typed, so a signal from another realm (a vm context, a test environment) passes.
  if (
    !isRecord(value) ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function' ||
    typeof s.removeEventListener !== 'function'
  ) {
    throw new QmpArgumentError(field, `must be an AbortSignal, got ${describeValue(value)}`);
  }
  return s;
}

export function checkBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new QmpArgumentError(field, `must be true or false, got ${describeValue(value)}`);
}

export function checkFunction<F extends (...args: never[]) => unknown>(
  value: unknown,
  field: string,
): F | undefined {
  if (value === undefined || typeof value === 'function') return value as F | undefined;
  throw new QmpArgumentError(field, `must be a function, got ${describeValue(value)}`);
}

/** A positive safe integer (a count, a size). */
export function checkCount(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new QmpArgumentError(field, `must be a positive integer, got ${describeValue(value)}`);
  }
  return value;
}

export function checkNonEmptyString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new QmpArgumentError(field, `must be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** Runs `fn`; a synchronous throw becomes a rejected promise, so async APIs never throw. */
export function rejecting<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}
