/**
 * Measurement loops shared by the suites. Contenders are measured in interleaved blocks
 * rather than one after the other: on a shared 2-core machine, load from other processes
 * drifts over seconds, and interleaving spreads that drift evenly over the contenders
 * instead of charging it to whoever happened to run then.
 */

/** Runs `n` awaited calls, appending each duration (ms) to `samples`; returns the block's wall time (ms). */
export async function serialBlock(
  call: () => Promise<unknown>,
  n: number,
  samples: number[],
): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  return performance.now() - start;
}

/** Calls `step(i)` for each of `count` contenders, `blocks` times, rotating who goes first. */
export async function interleave(
  count: number,
  blocks: number,
  step: (index: number) => Promise<void>,
): Promise<void> {
  for (let block = 0; block < blocks; block++) {
    for (let k = 0; k < count; k++) await step((block + k) % count);
  }
}

/** Wall time (ms) of one awaited piece of work. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}
