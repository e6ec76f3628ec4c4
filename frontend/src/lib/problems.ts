/**
 * RFC 9457 problem details from the API, turned into what a form needs: one message per field and a summary.
 * The API lists invalid fields in `errors`; the reader also accepts the shapes FastAPI and pydantic produce
 * (`loc` arrays, JSON pointers) so a change in the server's wording never hides an error from the user.
 */

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: unknown;
  [key: string]: unknown;
}

export type FieldErrors = Record<string, string>;

/** Location segments that name where a field came from rather than the field itself. */
const LOCATION_PREFIXES = new Set(['body', 'query', 'path', 'header', '#', '']);

/** The camelCase field a location refers to: "body.name", ["body","hour"], "/executionDays", "#/timeZone". */
export function fieldFromLocation(location: unknown): string | null {
  let segments: string[];
  if (Array.isArray(location)) segments = location.map(String);
  else if (typeof location === 'string') segments = location.split(/[./]/);
  else return null;
  const rest = segments.filter((s, i) => !(i === 0 && LOCATION_PREFIXES.has(s)) && s !== '#' && s !== '');
  const field = rest.find((s) => !/^\d+$/.test(s));
  return field ? toCamel(field) : null;
}

function toCamel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function messageOf(item: Record<string, unknown>): string {
  for (const key of ['message', 'detail', 'msg', 'title']) {
    const value = item[key];
    if (typeof value === 'string' && value.trim()) return cleanMessage(value);
  }
  return 'is not valid';
}

/** pydantic prefixes custom messages with "Value error, "; people do not need to read that. */
export function cleanMessage(message: string): string {
  const text = message.trim().replace(/^(value|assertion) error,\s*/i, '');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function locationOf(item: Record<string, unknown>): unknown {
  for (const key of ['field', 'name', 'pointer', 'loc', 'location', 'path']) {
    if (item[key] !== undefined) return item[key];
  }
  return undefined;
}

/** One message per field (the first one given wins: it is usually the most basic). */
export function fieldErrors(problem: Problem | null | undefined): FieldErrors {
  const result: FieldErrors = {};
  if (!problem) return result;
  const list = Array.isArray(problem.errors)
    ? problem.errors
    : Array.isArray(problem.detail as unknown)
      ? (problem.detail as unknown as unknown[])
      : [];
  for (const entry of list) {
    if (!entry || typeof entry !== 'object') continue;
    const item = entry as Record<string, unknown>;
    const field = fieldFromLocation(locationOf(item)) ?? '_form';
    if (!(field in result)) result[field] = messageOf(item);
  }
  if (!Array.isArray(problem.errors) && problem.errors && typeof problem.errors === 'object') {
    // A map {field: message | [messages]} is another common shape.
    for (const [key, value] of Object.entries(problem.errors as Record<string, unknown>)) {
      const message = Array.isArray(value) ? value[0] : value;
      const field = fieldFromLocation(key) ?? '_form';
      if (typeof message === 'string' && !(field in result)) result[field] = message;
    }
  }
  return result;
}

/** A sentence for the top of the page. */
export function problemSummary(problem: Problem | null | undefined, status?: number): string {
  if (problem) {
    if (typeof problem.detail === 'string' && problem.detail.trim()) return problem.detail.trim();
    if (typeof problem.title === 'string' && problem.title.trim()) return problem.title.trim();
  }
  return statusText(status ?? problem?.status);
}

export function statusText(status: number | undefined): string {
  switch (status) {
    case 400:
      return 'The request was not accepted.';
    case 401:
      return 'Your session has ended. Please sign in again.';
    case 403:
      return 'You are not allowed to do this.';
    case 404:
      return 'This was not found.';
    case 409:
    case 412:
      return 'This task was changed elsewhere since you opened it.';
    case 422:
      return 'Some fields need your attention.';
    case 429:
      return 'Too many requests. Please wait a moment and try again.';
    default:
      if (status !== undefined && status >= 500) return 'The service is having trouble. Please try again.';
      return 'Something went wrong.';
  }
}

/** Parse a response body as a problem when it looks like one. */
export async function readProblem(response: Response): Promise<Problem | null> {
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('json')) return null;
  try {
    const body: unknown = await response.clone().json();
    return body && typeof body === 'object' ? (body as Problem) : null;
  } catch {
    return null;
  }
}
