/**
 * A QAPI integer. Values within ±(2^53 - 1) arrive as `number`; larger ones (uint64
 * addresses, byte counts) arrive as exact `bigint` instead of being rounded. Either may
 * be passed as an argument. (Its own module: the generated types import it, and types.ts
 * imports the generated types, so keeping it there would make an import circle.)
 */
export type QmpInt = number | bigint;
