/**
 * Runs `fn` at most once per `minIntervalMs`, on the trailing edge: a call to
 * `schedule` always leads to a run that happens after it, so the last state
 * is always sent, however many changes were folded into one run.
 */
export interface Throttle {
  schedule(): void;
  cancel(): void;
}

export function throttle(fn: () => void, minIntervalMs: number, onError: (e: unknown) => void): Throttle {
  let last = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  return {
    schedule() {
      if (timer !== undefined || cancelled) return;
      const wait = Math.max(0, last + minIntervalMs - Date.now());
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        try {
          fn();
        } catch (e) {
          onError(e);
        }
      }, wait);
    },
    cancel() {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
