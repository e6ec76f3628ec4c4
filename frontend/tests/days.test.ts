import { describe, expect, it } from 'vitest';
import { dayFromText, describeDays, parseDays, serializeDays } from '../src/lib/days';

describe('parseDays', () => {
  it('normalises case, spaces, order and duplicates', () => {
    expect(parseDays(' fri,MON, wed,mon ')).toEqual(['MON', 'WED', 'FRI']);
  });
  it('drops unknown names and handles empty input', () => {
    expect(parseDays('MON,XYZ')).toEqual(['MON']);
    expect(parseDays('')).toEqual([]);
    expect(parseDays(null)).toEqual([]);
  });
});

describe('serializeDays', () => {
  it('writes week order without duplicates', () => {
    expect(serializeDays(['SUN', 'MON', 'SUN', 'WED'])).toBe('MON,WED,SUN');
  });
});

describe('describeDays', () => {
  it.each([
    ['MON,TUE,WED,THU,FRI,SAT,SUN', 'Every day'],
    ['MON,TUE,WED,THU,FRI', 'Weekdays'],
    ['SAT,SUN', 'Weekends'],
    ['MON,WED,FRI', 'Mon, Wed, Fri'],
    ['MON,TUE,WED,FRI', 'Mon–Wed, Fri'],
    ['MON,TUE', 'Mon, Tue'],
    ['TUE,WED,THU,SAT', 'Tue–Thu, Sat'],
    ['', 'No days'],
  ])('%s -> %s', (input, expected) => {
    expect(describeDays(input)).toBe(expected);
  });
});

describe('dayFromText', () => {
  it('reads short and long names in any case', () => {
    expect(dayFromText('mon')).toBe('MON');
    expect(dayFromText('Wednesday')).toBe('WED');
    expect(dayFromText('tu')).toBe('TUE');
  });
  it('refuses ambiguous or unknown text', () => {
    expect(dayFromText('t')).toBeNull();
    expect(dayFromText('s')).toBeNull();
    expect(dayFromText('lights')).toBeNull();
  });
});
