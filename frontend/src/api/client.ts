/** The Tasks API as the pages use it: typed calls over the generated client (openapi-fetch). */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';
import type { Problem } from '../lib/problems';
import { ApiError, NetworkError, nextCursor, retryingFetch } from './http';
import type { Execution, Task, TaskWrite } from './types';

export type TokenSource = () => Promise<string | null>;

export interface Versioned<T> {
  value: T;
  etag: string | null;
}

const MAX_PAGES = 20;
const PAGE_SIZE = 500;

export class TasksApi {
  private readonly client: ReturnType<typeof createClient<paths>>;

  constructor(baseUrl: string, token: TokenSource, fetchImpl: typeof fetch = (...args) => fetch(...args)) {
    const auth: Middleware = {
      async onRequest({ request }) {
        const value = await token();
        if (value) request.headers.set('Authorization', `Bearer ${value}`);
        return request;
      },
    };
    this.client = createClient<paths>({ baseUrl, fetch: retryingFetch(fetchImpl) });
    this.client.use(auth);
  }

  /** Every task of the caller, following the API's cursor pages (bounded). */
  async listTasks(): Promise<Task[]> {
    const tasks: Task[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: { limit: number; cursor?: string } = { limit: PAGE_SIZE };
      if (cursor) query.cursor = cursor;
      const { data, response } = await call(() => this.client.GET('/api/tasks', { params: { query } }));
      tasks.push(...(data ?? []));
      cursor = nextCursor(response.headers.get('Link'));
      if (!cursor) break;
    }
    return tasks;
  }

  async getTask(id: number): Promise<Versioned<Task>> {
    const { data, response } = await call(() =>
      this.client.GET('/api/tasks/{task_id}', { params: { path: { task_id: id } } }),
    );
    return { value: data as Task, etag: response.headers.get('ETag') };
  }

  async createTask(body: TaskWrite): Promise<Versioned<Task>> {
    const { data, response } = await call(() => this.client.POST('/api/tasks', { body }));
    return { value: data as Task, etag: response.headers.get('ETag') };
  }

  /** PUT with If-Match: a stale etag comes back as ApiError 412, so two tabs never overwrite each other. */
  async replaceTask(id: number, body: TaskWrite, etag: string | null): Promise<Versioned<Task>> {
    const { data, response } = await call(() =>
      this.client.PUT('/api/tasks/{task_id}', {
        params: { path: { task_id: id }, header: etag ? { 'If-Match': etag } : {} },
        body,
      }),
    );
    return { value: data as Task, etag: response.headers.get('ETag') };
  }

  async deleteTask(id: number, etag: string | null): Promise<void> {
    await call(() =>
      this.client.DELETE('/api/tasks/{task_id}', {
        params: { path: { task_id: id }, header: etag ? { 'If-Match': etag } : {} },
      }),
    );
  }

  async listExecutions(id: number): Promise<Execution[]> {
    const { data } = await call(() =>
      this.client.GET('/api/tasks/{task_id}/executions', {
        params: { path: { task_id: id }, query: { limit: 20 } },
      }),
    );
    return data ?? [];
  }
}

async function call<R extends { response: Response; error?: unknown }>(send: () => Promise<R>): Promise<R> {
  let result: R;
  try {
    result = await send();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new NetworkError();
  }
  if (!result.response.ok) {
    // openapi-fetch has already read the body: its parsed JSON is the problem document.
    const problem = result.error && typeof result.error === 'object' ? (result.error as Problem) : null;
    throw new ApiError(result.response.status, problem);
  }
  return result;
}
