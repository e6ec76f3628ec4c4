import { describe, expect, it } from 'vitest';
import {
  dateInZone,
  endOfDayInZone,
  formatTime,
  formatUntil,
  isKnownTimeZone,
  parseTime,
  zoneOffsetMinutes,
} from '../src/lib/time';

describe('formatTime / parseTime', () => {
  it('pads to HH:mm', () => {
    expect(formatTime(7, 5)).toBe('07:05');
    expect(formatTime(23, 59)).toBe('23:59');
    expect(formatTime(0, 0)).toBe('00:00');
  });
  it('parses valid times and refuses the rest', () => {
    expect(parseTime('07:30')).toEqual({ hour: 7, minute: 30 });
    expect(parseTime('7:05')).toEqual({ hour: 7, minute: 5 });
    expect(parseTime('24:00')).toBeNull();
    expect(parseTime('12:60')).toBeNull();
    expect(parseTime('noon')).toBeNull();
    expect(parseTime('')).toBeNull();
  });
  it('round-trips every minute of the day', () => {
    for (let h = 0; h < 24; h++) for (let m = 0; m < 60; m++) expect(parseTime(formatTime(h, m))).toEqual({ hour: h, minute: m });
  });
});

describe('zones', () => {
  it('knows real zones and refuses invented ones', () => {
    expect(isKnownTimeZone('America/Guayaquil')).toBe(true);
    expect(isKnownTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
  it('computes offsets, including daylight saving time', () => {
    expect(zoneOffsetMinutes(new Date('2027-01-15T12:00:00Z'), 'America/Guayaquil')).toBe(-300);
    expect(zoneOffsetMinutes(new Date('2027-07-15T12:00:00Z'), 'Europe/Madrid')).toBe(120);
    expect(zoneOffsetMinutes(new Date('2027-01-15T12:00:00Z'), 'Europe/Madrid')).toBe(60);
    expect(zoneOffsetMinutes(new Date('2027-01-15T12:00:00Z'), 'Asia/Kolkata')).toBe(330);
  });
  it('ends the until date at 23:59:59 in the task zone', () => {
    expect(endOfDayInZone('2027-01-31', 'America/Guayaquil')).toBe('2027-01-31T23:59:59-05:00');
    expect(endOfDayInZone('2027-07-01', 'Europe/Madrid')).toBe('2027-07-01T23:59:59+02:00');
    expect(endOfDayInZone('2027-03-28', 'Europe/Madrid')).toBe('2027-03-28T23:59:59+02:00'); // DST starts that day
    expect(endOfDayInZone('2027-01-31', 'UTC')).toBe('2027-01-31T23:59:59+00:00');
    expect(() => endOfDayInZone('31/01/2027', 'UTC')).toThrow();
  });
  it('reads the date back in the task zone', () => {
    expect(dateInZone('2027-01-31T23:59:59-05:00', 'America/Guayaquil')).toBe('2027-01-31');
    // The same instant is already the next day in Madrid.
    expect(dateInZone('2027-01-31T23:59:59-05:00', 'Europe/Madrid')).toBe('2027-02-01');
    expect(dateInZone('not a date', 'UTC')).toBe('');
  });
  it('shows "no end" when there is no until date', () => {
    expect(formatUntil(null, 'UTC')).toBe('no end');
    expect(formatUntil(undefined, 'UTC')).toBe('no end');
    expect(formatUntil('2027-01-31T23:59:59-05:00', 'America/Guayaquil', 'en-US')).toBe('Jan 31, 2027');
  });
});
