/** The list's search box: one text that matches a task's name, one of its days, or its time. */
import { dayFromText, parseDays } from './days';
import { formatTime } from './time';

export interface Searchable {
  id: number;
  name: string;
  hour: number;
  minute: number;
  executionDays: string;
}

/**
 * True when the task matches the query:
 * - its name contains the text (case-insensitive), or
 * - the text names a day ("mon", "Monday") the task runs on, or
 * - the text is an hour ("7", "07") equal to the task's hour, or a time prefix ("07:3") of its HH:mm.
 */
export function matchesQuery(task: Searchable, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  if (task.name.toLowerCase().includes(q)) return true;
  const day = dayFromText(q);
  if (day && parseDays(task.executionDays).includes(day)) return true;
  if (/^\d{1,2}$/.test(q)) return Number(q) === task.hour;
  if (/^\d{1,2}:\d{0,2}$/.test(q)) {
    const [h, m] = q.split(':');
    return formatTime(task.hour, task.minute).startsWith(`${h.padStart(2, '0')}:${m}`);
  }
  return false;
}

/** Time order, as the original listed them: hour, minute, then id for a stable order. */
export function byTime(a: Searchable, b: Searchable): number {
  return a.hour - b.hour || a.minute - b.minute || a.id - b.id;
}

export function searchTasks<T extends Searchable>(tasks: readonly T[], query: string): T[] {
  return tasks.filter((task) => matchesQuery(task, query)).sort(byTime);
}
