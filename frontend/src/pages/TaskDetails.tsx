import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { ApiError } from '../api/http';
import type { Execution, Task } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorView } from '../components/ErrorView';
import { PageHeading } from '../components/PageHeading';
import { StatusBadge } from '../components/StatusBadge';
import { useApp } from '../context';
import { dayLabel, describeDays, parseDays } from '../lib/days';
import { formatDateTime, formatTime, formatUntil } from '../lib/time';
import { useLoad } from '../lib/useLoad';

interface Loaded {
  task: Task;
  etag: string | null;
  executions: Execution[] | null;
}

export function TaskDetails({ id }: { id: string }) {
  const { api, setNotice } = useApp();
  const { route } = useLocation();
  const taskId = Number(id);
  const [state, reload] = useLoad<Loaded>(async () => {
    if (!Number.isInteger(taskId) || taskId <= 0) throw new ApiError(404, null);
    const { value, etag } = await api.getTask(taskId);
    // The executions are a bonus: a failure there must not hide the task itself.
    const executions = await api.listExecutions(taskId).catch(() => null);
    return { task: value, etag, executions };
  }, [taskId]);
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState('');

  if (state.kind === 'loading') {
    return (
      <p class="loading" role="status">
        Loading the task…
      </p>
    );
  }
  if (state.kind === 'error') {
    return <ErrorView status={state.error.status} message={state.error.message} onRetry={reload} />;
  }
  const { task, etag, executions } = state.value;

  async function remove() {
    setDeleting(true);
    setDeleteError('');
    try {
      await api.deleteTask(task.id, etag);
      setNotice(`Task “${task.name}” deleted.`, '/tasks');
      route('/tasks');
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 500;
      setDeleteError(
        status === 412
          ? 'This task was changed elsewhere since you opened it. Close this and reload to see the latest version.'
          : status === 404
            ? 'This task no longer exists.'
            : error instanceof Error
              ? error.message
              : 'The task could not be deleted.',
      );
    } finally {
      setDeleting(false);
    }
  }

  return (
    <section>
      <div class="page-title-row">
        <PageHeading title={task.name} />
        <div class="actions">
          <a class="button" href={`/tasks/${task.id}/edit`}>
            Edit
          </a>
          <button type="button" class="button danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        </div>
      </div>
      <dl class="details">
        <Item label="Name" value={task.name} />
        <Item label="Description" value={task.description || '—'} />
        <Item label="Time" value={formatTime(task.hour, task.minute)} />
        <Item
          label="Days"
          value={`${describeDays(task.executionDays)} (${parseDays(task.executionDays)
            .map((d) => dayLabel(d, 'long'))
            .join(', ')})`}
        />
        <Item label="Time zone" value={task.timeZone} />
        <Item label="Until" value={formatUntil(task.executeUntil, task.timeZone)} />
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={task.status} />
          </dd>
        </div>
        <Item label="Next run" value={task.nextRunAt ? formatDateTime(task.nextRunAt, task.timeZone) : '—'} />
        <Item label="Device id" value={task.deviceId || '—'} />
        <Item label="Device operation" value={operationLabel(task.deviceOperation)} />
        <Item label="Execution command" value={task.executionCommand || '—'} mono />
        <Item label="Job id" value={task.jobId} mono />
        <Item label="Created" value={formatDateTime(task.createdAt)} />
        <Item label="Updated" value={formatDateTime(task.updatedAt)} />
      </dl>

      <h2>Recent executions</h2>
      {executions === null ? (
        <p class="muted">The executions could not be loaded.</p>
      ) : executions.length === 0 ? (
        <p class="muted">This task has not run yet.</p>
      ) : (
        <table class="executions">
          <thead>
            <tr>
              <th scope="col">Scheduled for</th>
              <th scope="col">Result</th>
              <th scope="col">Attempts</th>
              <th scope="col">Finished</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {executions.map((run) => (
              <tr key={run.slot}>
                <td data-label="Scheduled for">{formatDateTime(run.slot, task.timeZone)}</td>
                <td data-label="Result">{executionLabel(run.status)}</td>
                <td data-label="Attempts">{run.attempts ?? '—'}</td>
                <td data-label="Finished">{formatDateTime(run.finishedAt ?? null, task.timeZone)}</td>
                <td data-label="Error">{run.error || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <a href="/tasks">← Back to your tasks</a>
      </p>

      <ConfirmDialog
        open={confirming}
        title="Delete this task?"
        confirmLabel="Delete task"
        busy={deleting}
        error={deleteError}
        onConfirm={remove}
        onCancel={() => {
          setConfirming(false);
          setDeleteError('');
        }}
      >
        <p>
          “{task.name}” will stop running and cannot be restored.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function Item({ label, value, mono }: { label: string; value: string; mono?: boolean }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd class={mono ? 'mono' : undefined}>{value}</dd>
    </div>
  );
}

function operationLabel(op: string | null | undefined): string {
  if (op === 'ACTIVATE') return 'Activate';
  if (op === 'DEACTIVATE') return 'Deactivate';
  return '—';
}

function executionLabel(status: string): string {
  const labels: Record<string, string> = {
    SUCCEEDED: 'Succeeded',
    FAILED: 'Failed',
    MISSED: 'Missed',
    CLAIMED: 'Running',
  };
  return labels[status] ?? status;
}
