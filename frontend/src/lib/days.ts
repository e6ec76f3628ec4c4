/** Execution days: the API's "MON,WED,FRI" text, parsed, normalised and shown to people. */

export const WEEK = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Day = (typeof WEEK)[number];

const LONG: Record<Day, string> = {
  MON: 'Monday',
  TUE: 'Tuesday',
  WED: 'Wednesday',
  THU: 'Thursday',
  FRI: 'Friday',
  SAT: 'Saturday',
  SUN: 'Sunday',
};
const SHORT: Record<Day, string> = {
  MON: 'Mon',
  TUE: 'Tue',
  WED: 'Wed',
  THU: 'Thu',
  FRI: 'Fri',
  SAT: 'Sat',
  SUN: 'Sun',
};

export function isDay(value: string): value is Day {
  return (WEEK as readonly string[]).includes(value);
}

/** Days named in the API's text, in week order, without duplicates; unknown names are dropped. */
export function parseDays(text: string | null | undefined): Day[] {
  const names = new Set(
    (text ?? '')
      .split(',')
      .map((part) => part.trim().toUpperCase())
      .filter(isDay),
  );
  return WEEK.filter((day) => names.has(day));
}

/** The API's form: "MON,WED,FRI" in week order. */
export function serializeDays(days: Iterable<Day>): string {
  const chosen = new Set(days);
  return WEEK.filter((day) => chosen.has(day)).join(',');
}

export function dayLabel(day: Day, style: 'short' | 'long' = 'short'): string {
  return (style === 'long' ? LONG : SHORT)[day];
}

/**
 * How people read a set of days: "Every day", "Weekdays", "Weekends", runs as ranges ("Mon–Wed, Fri"),
 * otherwise a plain list.
 */
export function describeDays(text: string | null | undefined): string {
  const days = parseDays(text);
  if (days.length === 0) return 'No days';
  if (days.length === 7) return 'Every day';
  const key = days.join(',');
  if (key === 'MON,TUE,WED,THU,FRI') return 'Weekdays';
  if (key === 'SAT,SUN') return 'Weekends';
  const indexes = days.map((day) => WEEK.indexOf(day));
  const parts: string[] = [];
  let start = 0;
  for (let i = 1; i <= indexes.length; i++) {
    if (i < indexes.length && indexes[i] === indexes[i - 1] + 1) continue;
    const first = WEEK[indexes[start]];
    const last = WEEK[indexes[i - 1]];
    const runLength = i - start;
    if (runLength >= 3) parts.push(`${SHORT[first]}–${SHORT[last]}`);
    else for (let j = start; j < i; j++) parts.push(SHORT[WEEK[indexes[j]]]);
    start = i;
  }
  return parts.join(', ');
}

/** A day a person typed ("mon", "Monday", "tues") or null when the text names no single day. */
export function dayFromText(text: string): Day | null {
  const value = text.trim().toLowerCase();
  if (value.length < 2) return null;
  const matches = WEEK.filter((day) => LONG[day].toLowerCase().startsWith(value));
  return matches.length === 1 ? matches[0] : null;
}
