/**
 * Names for the API's shapes, derived from the generated `paths` rather than from schema names, so that a
 * renamed schema on the server does not break the app as long as the endpoints keep their shape.
 */
import type { paths } from './schema';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

export type Task = Json<paths['/api/tasks/{task_id}']['get']['responses'][200]>;
export type TaskWrite = NonNullable<paths['/api/tasks']['post']['requestBody']>['content']['application/json'];
export type Execution = Json<paths['/api/tasks/{task_id}/executions']['get']['responses'][200]>[number];
