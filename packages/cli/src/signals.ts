/**
 * Ctrl-C and SIGTERM as an AbortSignal: the first one aborts what the command runs (the
 * libraries then stop what they started, and the command exits 130); a second one exits
 * at once, for a user who would rather leave things behind than wait.
 */

/** An AbortSignal aborted by SIGINT or SIGTERM, and the function that stops listening. */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
