// Bounded waits on backing services: an answer in time, or a 503-class error once the time is up.
import { ServiceUnavailable } from "../errors.ts";

/** The work's answer, or a ServiceUnavailable once `ms` have passed (the work itself is left to finish or fail). */
export function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ServiceUnavailable(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => {}); // a late failure after the deadline is not an unhandled rejection
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
