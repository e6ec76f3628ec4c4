import { describe, expect, it } from 'vitest';
import { TasksApi } from '../src/api/client';
import { ApiError, NetworkError, nextCursor, retryingFetch } from '../src/api/http';

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers },
  });

function recorder(responses: (Response | Error)[]) {
  const seen: Request[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push(new Request(input, init));
    const next = responses.shift();
    if (!next) throw new Error('no more responses');
    if (next instanceof Error) throw next;
    return next;
  }) as typeof fetch;
  return { seen, fetchImpl };
}

describe('nextCursor', () => {
  it('reads the cursor of rel="next"', () => {
    expect(nextCursor('</api/tasks?limit=2&cursor=abc%3D>; rel="next"')).toBe('abc=');
    expect(nextCursor('<https://x/api/tasks?cursor=Z>; rel="prev", <https://x/api/tasks?cursor=N>; rel=next')).toBe('N');
    expect(nextCursor(null)).toBeNull();
    expect(nextCursor('</api/tasks?cursor=Z>; rel="prev"')).toBeNull();
  });
});

describe('retryingFetch', () => {
  const noSleep = { sleep: async () => {} };
  it('retries a GET twice on 503, then gives up with the last answer', async () => {
    const { seen, fetchImpl } = recorder([json({}, 503), json({}, 503), json({}, 503)]);
    const response = await retryingFetch(fetchImpl, noSleep)('http://x/api/tasks');
    expect(response.status).toBe(503);
    expect(seen).toHaveLength(3);
  });
  it('returns as soon as a retry succeeds, and survives a network error', async () => {
    const { seen, fetchImpl } = recorder([new TypeError('offline'), json([], 200)]);
    const response = await retryingFetch(fetchImpl, noSleep)('http://x/api/tasks');
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(2);
  });
  it('never retries writes or 500s', async () => {
    const post = recorder([json({}, 503)]);
    expect((await retryingFetch(post.fetchImpl, noSleep)('http://x/api/tasks', { method: 'POST', body: '{}' })).status).toBe(503);
    expect(post.seen).toHaveLength(1);
    const get = recorder([json({}, 500)]);
    expect((await retryingFetch(get.fetchImpl, noSleep)('http://x/api/tasks')).status).toBe(500);
    expect(get.seen).toHaveLength(1);
  });
});

describe('TasksApi', () => {
  const task = { id: 3, name: 'Lights', hour: 7, minute: 0, executionDays: 'MON' };

  it('sends the bearer token and follows cursor pages', async () => {
    const { seen, fetchImpl } = recorder([
      json([task], 200, { Link: '</api/tasks?limit=500&cursor=p2>; rel="next"' }),
      json([{ ...task, id: 4 }], 200),
    ]);
    const api = new TasksApi('http://api.test', async () => 'tok', fetchImpl);
    const tasks = await api.listTasks();
    expect(tasks.map((t) => t.id)).toEqual([3, 4]);
    expect(seen[0].headers.get('Authorization')).toBe('Bearer tok');
    expect(new URL(seen[1].url).searchParams.get('cursor')).toBe('p2');
  });

  it('returns the ETag and sends it back as If-Match', async () => {
    const { seen, fetchImpl } = recorder([json(task, 200, { ETag: 'W/"v1"' }), json({ ...task, name: 'x' }, 200, { ETag: 'W/"v2"' })]);
    const api = new TasksApi('http://api.test', async () => null, fetchImpl);
    const { etag } = await api.getTask(3);
    expect(etag).toBe('W/"v1"');
    const saved = await api.replaceTask(3, { name: 'x', hour: 7, minute: 0, executionDays: 'MON', status: 'ACT' as const }, etag);
    expect(saved.etag).toBe('W/"v2"');
    expect(seen[1].method).toBe('PUT');
    expect(seen[1].headers.get('If-Match')).toBe('W/"v1"');
    expect(seen[0].headers.get('Authorization')).toBeNull();
  });

  it('turns a 412 and a 422 into ApiErrors with the field errors', async () => {
    const { fetchImpl } = recorder([
      json({ title: 'Precondition Failed', status: 412 }, 412),
      json({ title: 'Invalid', status: 422, errors: [{ field: 'timeZone', message: 'unknown zone' }] }, 422),
    ]);
    const api = new TasksApi('http://api.test', async () => 't', fetchImpl);
    const body = { name: 'x', hour: 7, minute: 0, executionDays: 'MON', status: 'ACT' as const };
    const stale = await api.replaceTask(3, body, '"old"').catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ApiError);
    expect((stale as ApiError).status).toBe(412);
    const invalid = await api.createTask(body).catch((e: unknown) => e);
    expect((invalid as ApiError).status).toBe(422);
    expect((invalid as ApiError).fields).toEqual({ timeZone: 'Unknown zone' });
  });

  it('reports an unreachable API as a NetworkError (shown with a retry)', async () => {
    const { fetchImpl } = recorder([new TypeError('x'), new TypeError('x'), new TypeError('x')]);
    const api = new TasksApi('http://api.test', async () => 't', fetchImpl);
    const error = await api.listTasks().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as ApiError).status).toBe(503);
  });
});
