import { useMemo, useState } from 'preact/hooks';
import type { Task } from '../api/types';
import { ErrorView } from '../components/ErrorView';
import { PageHeading } from '../components/PageHeading';
import { StatusBadge } from '../components/StatusBadge';
import { useApp } from '../context';
import { describeDays } from '../lib/days';
import { searchTasks } from '../lib/search';
import { formatDateTime, formatTime, formatUntil } from '../lib/time';
import { useLoad } from '../lib/useLoad';

export function TaskList() {
  const { api } = useApp();
  const [state, reload] = useLoad(() => api.listTasks(), []);
  const [query, setQuery] = useState(() => new URLSearchParams(window.location.search).get('q') ?? '');
  const tasks = state.kind === 'ready' ? state.value : [];
  const shown = useMemo(() => searchTasks(tasks, query), [tasks, query]);

  if (state.kind === 'error') {
    return <ErrorView status={state.error.status} message={state.error.message} onRetry={reload} />;
  }

  return (
    <section>
      <div class="page-title-row">
        <PageHeading title="Your tasks" />
        <a class="button primary" href="/tasks/new">
          New task
        </a>
      </div>
      <div class="search">
        <label for="task-search">Search by name, day or hour</label>
        <input
          id="task-search"
          type="search"
          value={query}
          placeholder="e.g. lights, mon, 07 or 07:30"
          onInput={(e) => {
            const value = e.currentTarget.value;
            setQuery(value);
            // Keep the search in the address, so Back from a task returns to the same results.
            const url = value.trim() ? `/tasks?q=${encodeURIComponent(value)}` : '/tasks';
            window.history.replaceState(window.history.state, '', url);
          }}
          aria-describedby="task-count"
        />
      </div>
      <p id="task-count" class="muted" role="status" aria-live="polite">
        {state.kind === 'loading'
          ? 'Loading your tasks…'
          : query.trim()
            ? `${shown.length} of ${tasks.length} tasks match`
            : `${tasks.length} ${tasks.length === 1 ? 'task' : 'tasks'}`}
      </p>
      {state.kind === 'ready' && tasks.length === 0 && (
        <p class="empty">
          You have no tasks yet. <a href="/tasks/new">Create your first task</a>.
        </p>
      )}
      {shown.length > 0 && <TaskTable tasks={shown} />}
    </section>
  );
}

function TaskTable({ tasks }: { tasks: Task[] }) {
  return (
    <table class="task-table">
      <caption class="visually-hidden">Tasks sorted by time</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Name</th>
          <th scope="col">Days</th>
          <th scope="col">Until</th>
          <th scope="col">Status</th>
          <th scope="col">Next run</th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((task) => (
          <tr key={task.id} data-task-id={task.id}>
            <td data-label="Time" class="time">
              {formatTime(task.hour, task.minute)}
            </td>
            <th scope="row" data-label="Name">
              <a href={`/tasks/${task.id}`}>{task.name}</a>
            </th>
            <td data-label="Days" title={task.executionDays}>
              {describeDays(task.executionDays)}
            </td>
            <td data-label="Until">{formatUntil(task.executeUntil, task.timeZone)}</td>
            <td data-label="Status">
              <StatusBadge status={task.status} />
            </td>
            <td data-label="Next run">
              {task.nextRunAt ? formatDateTime(task.nextRunAt, task.timeZone) : '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
