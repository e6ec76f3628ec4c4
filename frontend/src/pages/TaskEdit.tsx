import { useLocation } from 'preact-iso';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError } from '../api/http';
import { DayChips } from '../components/DayChips';
import { ErrorView } from '../components/ErrorView';
import { PageHeading } from '../components/PageHeading';
import { useApp } from '../context';
import { type FieldErrors, statusText } from '../lib/problems';
import {
  COMMAND_MAX,
  DESCRIPTION_MAX,
  DEVICE_ID_MAX,
  NAME_MAX,
  type TaskFormValues,
  emptyForm,
  errorsForForm,
  firstInvalidField,
  formFromTask,
  toTaskWrite,
  validateForm,
} from '../lib/taskForm';
import { timeZoneNames } from '../lib/time';
import { useLoad } from '../lib/useLoad';

interface Loaded {
  values: TaskFormValues;
  etag: string | null;
  name: string;
}

/** Create (no id) or edit (id) a task. */
export function TaskEdit({ id }: { id?: string }) {
  const { api, setNotice } = useApp();
  const { route } = useLocation();
  const editing = id !== undefined;
  const taskId = Number(id);
  const [state, reload] = useLoad<Loaded>(async () => {
    if (!editing) return { values: emptyForm(), etag: null, name: '' };
    if (!Number.isInteger(taskId) || taskId <= 0) throw new ApiError(404, null);
    const { value, etag } = await api.getTask(taskId);
    return { values: formFromTask(value), etag, name: value.name };
  }, [id]);

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
  return (
    <TaskForm
      key={`${id ?? 'new'}:${state.value.etag ?? ''}`}
      initial={state.value}
      editing={editing}
      onReload={reload}
      onSave={async (values, etag) => {
        const body = toTaskWrite(values);
        const saved = editing ? await api.replaceTask(taskId, body, etag) : await api.createTask(body);
        const target = `/tasks/${saved.value.id}`;
        setNotice(editing ? `Task “${saved.value.name}” saved.` : `Task “${saved.value.name}” created.`, target);
        route(target);
      }}
      onCancel={() => route(editing ? `/tasks/${taskId}` : '/tasks')}
    />
  );
}

interface FormProps {
  initial: Loaded;
  editing: boolean;
  onSave: (values: TaskFormValues, etag: string | null) => Promise<void>;
  onCancel: () => void;
  onReload: () => void;
}

function TaskForm({ initial, editing, onSave, onCancel, onReload }: FormProps) {
  const [values, setValues] = useState<TaskFormValues>(initial.values);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<{ status: number; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [focusTarget, setFocusTarget] = useState<{ field: string } | null>(null);
  const zones = useMemo(() => timeZoneNames(), []);

  useEffect(() => {
    if (!focusTarget) return;
    const target =
      focusTarget.field === '_form'
        ? document.getElementById('form-error')
        : document.getElementById(`field-${focusTarget.field}`);
    (target ?? document.getElementById('form-error'))?.focus();
  }, [focusTarget]);

  const set = <K extends keyof TaskFormValues>(key: K, value: TaskFormValues[K]) =>
    setValues((v) => ({ ...v, [key]: value }));

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    setFormError(null);
    const local = validateForm(values);
    if (Object.keys(local).length > 0) {
      setErrors(local);
      setFocusTarget({ field: firstInvalidField(local) ?? '_form' });
      return;
    }
    setBusy(true);
    try {
      await onSave(values, initial.etag);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(500, { title: String(error) });
      const fields = errorsForForm(apiError.fields);
      const { _form: general, ...perField } = fields;
      setErrors(perField);
      if (apiError.status === 412 || apiError.status === 409) {
        setFormError({
          status: 412,
          message:
            'This task was changed elsewhere (for example in another tab) since you opened it. ' +
            'Your changes were not saved. Load the latest version and make your changes again.',
        });
        setFocusTarget({ field: '_form' });
      } else if (Object.keys(perField).length > 0) {
        // The fields say what is wrong; the summary only points at them.
        setFormError({ status: apiError.status, message: general ?? statusText(422) });
        setFocusTarget({ field: firstInvalidField(perField) ?? '_form' });
      } else {
        setFormError({ status: apiError.status, message: general ?? apiError.message });
        setFocusTarget({ field: '_form' });
      }
    } finally {
      setBusy(false);
    }
  }

  const title = editing ? `Edit “${initial.name}”` : 'New task';
  const describedBy = (field: string, hint?: string) =>
    [hint, errors[field] ? `error-${field}` : null].filter(Boolean).join(' ') || undefined;
  const invalid = (field: string) => (errors[field] ? 'true' : undefined);
  const fieldError = (field: string) =>
    errors[field] ? (
      <p class="field-error" id={`error-${field}`}>
        {errors[field]}
      </p>
    ) : null;

  return (
    <section>
      <PageHeading title={title} />
      {formError && (
        <div class="form-error" id="form-error" role="alert" tabIndex={-1} data-status={formError.status}>
          <p>{formError.message}</p>
          {formError.status === 412 && (
            <button type="button" class="button" onClick={onReload}>
              Load the latest version
            </button>
          )}
        </div>
      )}
      <form class="task-form" onSubmit={submit} noValidate>
        <div class={`field${errors.name ? ' invalid' : ''}`}>
          <label for="field-name">Name</label>
          <input
            id="field-name"
            name="name"
            type="text"
            required
            maxLength={NAME_MAX}
            autoComplete="off"
            value={values.name}
            onInput={(e) => set('name', e.currentTarget.value)}
            aria-invalid={invalid('name')}
            aria-describedby={describedBy('name')}
          />
          {fieldError('name')}
        </div>

        <div class={`field${errors.description ? ' invalid' : ''}`}>
          <label for="field-description">
            Description <span class="optional">(optional)</span>
          </label>
          <textarea
            id="field-description"
            name="description"
            rows={3}
            maxLength={DESCRIPTION_MAX}
            value={values.description}
            onInput={(e) => set('description', e.currentTarget.value)}
            aria-invalid={invalid('description')}
            aria-describedby={describedBy('description')}
          />
          {fieldError('description')}
        </div>

        <div class="row">
          <div class={`field${errors.time ? ' invalid' : ''}`}>
            <label for="field-time">Time</label>
            <input
              id="field-time"
              name="time"
              type="time"
              required
              value={values.time}
              onInput={(e) => set('time', e.currentTarget.value)}
              aria-invalid={invalid('time')}
              aria-describedby={describedBy('time', 'hint-time')}
            />
            <p class="hint" id="hint-time">
              In the task's time zone.
            </p>
            {fieldError('time')}
          </div>

          <div class={`field${errors.timeZone ? ' invalid' : ''}`}>
            <label for="field-timeZone">Time zone</label>
            <input
              id="field-timeZone"
              name="timeZone"
              type="text"
              list="time-zones"
              autoComplete="off"
              spellcheck={false}
              value={values.timeZone}
              onInput={(e) => set('timeZone', e.currentTarget.value)}
              aria-invalid={invalid('timeZone')}
              aria-describedby={describedBy('timeZone', 'hint-timeZone')}
            />
            <datalist id="time-zones">
              {zones.map((zone) => (
                <option key={zone} value={zone} />
              ))}
            </datalist>
            <p class="hint" id="hint-timeZone">
              An IANA name such as America/Guayaquil.
            </p>
            {fieldError('timeZone')}
          </div>
        </div>

        <DayChips value={values.days} onChange={(days) => set('days', days)} error={errors.executionDays} />

        <div class="row">
          <div class={`field${errors.executeUntil ? ' invalid' : ''}`}>
            <label for="field-executeUntil">
              Until <span class="optional">(optional)</span>
            </label>
            <input
              id="field-executeUntil"
              name="executeUntil"
              type="date"
              value={values.untilDate}
              onInput={(e) => set('untilDate', e.currentTarget.value)}
              aria-invalid={invalid('executeUntil')}
              aria-describedby={describedBy('executeUntil', 'hint-executeUntil')}
            />
            <p class="hint" id="hint-executeUntil">
              The last day it runs. Leave empty for no end.
            </p>
            {fieldError('executeUntil')}
          </div>

          <div class={`field${errors.status ? ' invalid' : ''}`}>
            <label for="field-status">Status</label>
            <select
              id="field-status"
              name="status"
              value={values.status}
              onChange={(e) => set('status', e.currentTarget.value === 'INA' ? 'INA' : 'ACT')}
              aria-invalid={invalid('status')}
              aria-describedby={describedBy('status')}
            >
              <option value="ACT">Active</option>
              <option value="INA">Inactive</option>
            </select>
            {fieldError('status')}
          </div>
        </div>

        <div class="row">
          <div class={`field${errors.deviceId ? ' invalid' : ''}`}>
            <label for="field-deviceId">
              Device id <span class="optional">(optional)</span>
            </label>
            <input
              id="field-deviceId"
              name="deviceId"
              type="text"
              maxLength={DEVICE_ID_MAX}
              autoComplete="off"
              value={values.deviceId}
              onInput={(e) => set('deviceId', e.currentTarget.value)}
              aria-invalid={invalid('deviceId')}
              aria-describedby={describedBy('deviceId')}
            />
            {fieldError('deviceId')}
          </div>

          <div class={`field${errors.deviceOperation ? ' invalid' : ''}`}>
            <label for="field-deviceOperation">Device operation</label>
            <select
              id="field-deviceOperation"
              name="deviceOperation"
              value={values.deviceOperation}
              onChange={(e) => set('deviceOperation', e.currentTarget.value as TaskFormValues['deviceOperation'])}
              aria-invalid={invalid('deviceOperation')}
              aria-describedby={describedBy('deviceOperation')}
            >
              <option value="">None</option>
              <option value="ACTIVATE">Activate</option>
              <option value="DEACTIVATE">Deactivate</option>
            </select>
            {fieldError('deviceOperation')}
          </div>
        </div>

        <div class={`field${errors.executionCommand ? ' invalid' : ''}`}>
          <label for="field-executionCommand">
            Execution command <span class="optional">(optional)</span>
          </label>
          <input
            id="field-executionCommand"
            name="executionCommand"
            type="text"
            maxLength={COMMAND_MAX}
            autoComplete="off"
            spellcheck={false}
            value={values.executionCommand}
            onInput={(e) => set('executionCommand', e.currentTarget.value)}
            aria-invalid={invalid('executionCommand')}
            aria-describedby={describedBy('executionCommand')}
          />
          {fieldError('executionCommand')}
        </div>

        <div class="actions">
          <button type="submit" class="button primary" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save changes' : 'Create task'}
          </button>
          <button type="button" class="button" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}
