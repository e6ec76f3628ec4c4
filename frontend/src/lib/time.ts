/** Times and dates as the task pages show them. Pure functions over Intl; no date library needed. */

const pad = (n: number) => String(n).padStart(2, '0');

/** 7, 5 -> "07:05" */
export function formatTime(hour: number, minute: number): string {
  return `${pad(hour)}:${pad(minute)}`;
}

/** "07:05" -> {hour: 7, minute: 5}; null when the text is not a valid 24-hour time. */
export function parseTime(text: string): { hour: number; minute: number } | null {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!match) return null;
  const hour = Number(match[1]);
  const minute = Number(match[2]);
  if (hour > 23 || minute > 59) return null;
  return { hour, minute };
}

/** The browser's IANA zone, e.g. "America/Guayaquil" (UTC when the browser does not say). */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Every zone the browser knows, for the form's suggestions. */
export function timeZoneNames(): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
  } catch {
    return [];
  }
}

/** Wall-clock parts of an instant in a zone. */
function wallClock(instant: Date, zone: string) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** Offset of a zone from UTC at an instant, in minutes (east positive). */
export function zoneOffsetMinutes(instant: Date, zone: string): number {
  const w = wallClock(instant, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(instant.getTime() / 1000) * 1000) / 60000);
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * "2027-01-31" in "America/Guayaquil" -> "2027-01-31T23:59:59-05:00": the task runs through the whole last day,
 * as the original did (its trigger ended on that date at 23:59:59 in the task's zone).
 */
export function endOfDayInZone(date: string, zone: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) throw new Error(`not a date: ${date}`);
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const wallAsUtc = Date.UTC(y, m - 1, d, 23, 59, 59);
  // Two passes settle the offset even on a day when the zone changes it.
  let offset = zoneOffsetMinutes(new Date(wallAsUtc), zone);
  offset = zoneOffsetMinutes(new Date(wallAsUtc - offset * 60000), zone);
  return `${date}T23:59:59${formatOffset(offset)}`;
}

/** The calendar date ("2027-01-31") of an ISO instant as seen in a zone. */
export function dateInZone(iso: string, zone: string): string {
  const instant = new Date(iso);
  if (Number.isNaN(instant.getTime())) return '';
  const w = wallClock(instant, zone);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}`;
}

/** "31 Jan 2027" style for an until date shown in lists; "no end" when there is none. */
export function formatUntil(iso: string | null | undefined, zone: string, locale?: string): string {
  if (!iso) return 'no end';
  const instant = new Date(iso);
  if (Number.isNaN(instant.getTime())) return 'no end';
  return new Intl.DateTimeFormat(locale, { timeZone: safeZone(zone), dateStyle: 'medium' }).format(instant);
}

/** A moment for people: "Mon, Nov 30, 07:30" in the given zone. */
export function formatDateTime(iso: string | null | undefined, zone?: string, locale?: string): string {
  if (!iso) return '—';
  const instant = new Date(iso);
  if (Number.isNaN(instant.getTime())) return '—';
  return new Intl.DateTimeFormat(locale, {
    timeZone: zone ? safeZone(zone) : undefined,
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(instant);
}

function safeZone(zone: string): string | undefined {
  return isKnownTimeZone(zone) ? zone : undefined;
}
