/** The create/edit form's state, its checks, and the conversion to and from the API's Task JSON. */
import type { Task, TaskWrite } from '../api/types';
import { type Day, parseDays, serializeDays } from './days';
import type { FieldErrors } from './problems';
import { browserTimeZone, dateInZone, endOfDayInZone, formatTime, parseTime } from './time';

export interface TaskFormValues {
  name: string;
  description: string;
  time: string; // "HH:mm"
  days: Day[];
  untilDate: string; // "YYYY-MM-DD" or ""
  timeZone: string;
  status: 'ACT' | 'INA';
  deviceId: string;
  deviceOperation: '' | 'ACTIVATE' | 'DEACTIVATE';
  executionCommand: string;
}

export const NAME_MAX = 60;
export const DESCRIPTION_MAX = 255;
export const DEVICE_ID_MAX = 30;
export const COMMAND_MAX = 255;

export function emptyForm(zone: string = browserTimeZone()): TaskFormValues {
  return {
    name: '',
    description: '',
    time: '08:00',
    days: [],
    untilDate: '',
    timeZone: zone,
    status: 'ACT',
    deviceId: '',
    deviceOperation: '',
    executionCommand: '',
  };
}

export function formFromTask(task: Task): TaskFormValues {
  const zone = task.timeZone || browserTimeZone();
  return {
    name: task.name,
    description: task.description ?? '',
    time: formatTime(task.hour, task.minute),
    days: parseDays(task.executionDays),
    untilDate: task.executeUntil ? dateInZone(task.executeUntil, zone) : '',
    timeZone: zone,
    status: task.status === 'INA' ? 'INA' : 'ACT',
    deviceId: task.deviceId ?? '',
    deviceOperation: task.deviceOperation ?? '',
    executionCommand: task.executionCommand ?? '',
  };
}

/**
 * Checks the browser can make without asking the server. Deliberately few: the API is the authority and its
 * field errors are shown in the same places, so a rule is never duplicated in a way that could disagree.
 */
export function validateForm(values: TaskFormValues): FieldErrors {
  const errors: FieldErrors = {};
  const name = values.name.trim();
  if (!name) errors.name = 'Enter a name.';
  else if (name.length > NAME_MAX) errors.name = `Use at most ${NAME_MAX} characters.`;
  if (values.description.length > DESCRIPTION_MAX)
    errors.description = `Use at most ${DESCRIPTION_MAX} characters.`;
  if (!parseTime(values.time)) errors.time = 'Enter a time as HH:mm, for example 07:30.';
  if (values.days.length === 0) errors.executionDays = 'Choose at least one day.';
  if (values.untilDate && !/^\d{4}-\d{2}-\d{2}$/.test(values.untilDate))
    errors.executeUntil = 'Enter a date as YYYY-MM-DD.';
  if (!values.timeZone.trim()) errors.timeZone = 'Enter a time zone, for example America/Guayaquil.';
  if (values.deviceId.length > DEVICE_ID_MAX) errors.deviceId = `Use at most ${DEVICE_ID_MAX} characters.`;
  if (values.executionCommand.length > COMMAND_MAX)
    errors.executionCommand = `Use at most ${COMMAND_MAX} characters.`;
  return errors;
}

/** The API body (every mutable field, so it serves both POST and PUT). */
export function toTaskWrite(values: TaskFormValues): TaskWrite {
  const time = parseTime(values.time) ?? { hour: 0, minute: 0 };
  const zone = values.timeZone.trim();
  const optional = (text: string) => (text.trim() ? text.trim() : null);
  let executeUntil: string | null = null;
  if (values.untilDate) {
    try {
      executeUntil = endOfDayInZone(values.untilDate, zone);
    } catch {
      // An unknown zone: let the API name the real problem (the zone), with the date at UTC.
      executeUntil = `${values.untilDate}T23:59:59Z`;
    }
  }
  return {
    name: values.name.trim(),
    description: optional(values.description),
    hour: time.hour,
    minute: time.minute,
    executionDays: serializeDays(values.days),
    executionCommand: optional(values.executionCommand),
    executeUntil,
    timeZone: zone,
    status: values.status,
    deviceId: optional(values.deviceId),
    deviceOperation: values.deviceOperation || null,
  };
}

/**
 * The API names fields as the JSON does; the form shows `hour` and `minute` under the one time input.
 */
export function errorsForForm(errors: FieldErrors): FieldErrors {
  const result: FieldErrors = {};
  for (const [field, message] of Object.entries(errors)) {
    const target = field === 'hour' || field === 'minute' ? 'time' : field;
    if (!(target in result)) result[target] = message;
  }
  return result;
}

/** Fields in the order they appear, so focus goes to the first one that needs attention. */
export const FIELD_ORDER = [
  'name',
  'description',
  'time',
  'executionDays',
  'executeUntil',
  'timeZone',
  'status',
  'deviceId',
  'deviceOperation',
  'executionCommand',
] as const;

export function firstInvalidField(errors: FieldErrors): string | null {
  return FIELD_ORDER.find((field) => field in errors) ?? (Object.keys(errors)[0] || null);
}
