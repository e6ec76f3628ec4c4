/** Transport rules shared by every API call: bearer token, retries of idempotent calls on 5xx, errors. */
import { type FieldErrors, type Problem, fieldErrors, problemSummary, readProblem } from '../lib/problems';

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  readonly fields: FieldErrors;

  constructor(status: number, problem: Problem | null) {
    super(problemSummary(problem, status));
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.fields = fieldErrors(problem);
  }
}

/** A network failure (server down, offline): shown like a 503 so the user gets a retry. */
export class NetworkError extends ApiError {
  constructor() {
    super(503, { title: 'The service cannot be reached. Check your connection and try again.', status: 503 });
    this.name = 'NetworkError';
  }
}

export async function toApiError(response: Response): Promise<ApiError> {
  return new ApiError(response.status, await readProblem(response));
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface RetryOptions {
  retries?: number;
  delayMs?: (attempt: number) => number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * fetch that retries reads answered with 502/503/504 (or lost on the network) a few times, as the original
 * app did for 5xx; writes are never retried because the first attempt may have landed.
 */
export function retryingFetch(inner: typeof fetch, options: RetryOptions = {}): typeof fetch {
  const retries = options.retries ?? 2;
  const delayMs = options.delayMs ?? ((attempt: number) => 300 * 2 ** attempt);
  const sleep = options.sleep ?? defaultSleep;
  return async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (!IDEMPOTENT.has(request.method.toUpperCase())) return inner(request);
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= retries;
      try {
        const response = await inner(request.clone());
        if (last || ![502, 503, 504].includes(response.status)) return response;
      } catch (error) {
        if (last) throw error;
      }
      await sleep(delayMs(attempt));
    }
  };
}

/** The `cursor` of the `rel="next"` link in a Link header, or null on the last page. */
export function nextCursor(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const match = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (!match || !/rel\s*=\s*"?next"?/i.test(match[2])) continue;
    try {
      return new URL(match[1], 'http://x.invalid').searchParams.get('cursor');
    } catch {
      return null;
    }
  }
  return null;
}
