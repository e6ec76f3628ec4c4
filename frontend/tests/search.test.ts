import { describe, expect, it } from 'vitest';
import { byTime, matchesQuery, searchTasks } from '../src/lib/search';

const t = (id: number, name: string, hour: number, minute: number, days: string) => ({
  id,
  name,
  hour,
  minute,
  executionDays: days,
});
const tasks = [
  t(1, 'Street lights off', 6, 30, 'MON,TUE,WED,THU,FRI'),
  t(2, 'Fountain on', 9, 0, 'SAT,SUN'),
  t(3, 'Street lights on', 18, 45, 'MON,WED,FRI,SAT,SUN'),
  t(4, 'Irrigation', 6, 5, 'TUE,THU'),
];

describe('matchesQuery', () => {
  it('matches names case-insensitively', () => {
    expect(searchTasks(tasks, 'LIGHTS').map((x) => x.id)).toEqual([1, 3]);
  });
  it('matches a day by short or long name', () => {
    expect(searchTasks(tasks, 'sat').map((x) => x.id)).toEqual([2, 3]);
    expect(searchTasks(tasks, 'Tuesday').map((x) => x.id)).toEqual([4, 1]);
  });
  it('matches an hour and a time prefix', () => {
    expect(searchTasks(tasks, '6').map((x) => x.id)).toEqual([4, 1]);
    expect(searchTasks(tasks, '06').map((x) => x.id)).toEqual([4, 1]);
    expect(searchTasks(tasks, '06:3').map((x) => x.id)).toEqual([1]);
    expect(searchTasks(tasks, '18:45').map((x) => x.id)).toEqual([3]);
    expect(searchTasks(tasks, '7').map((x) => x.id)).toEqual([]);
  });
  it('an empty query keeps everything, sorted by time', () => {
    expect(searchTasks(tasks, '  ').map((x) => x.id)).toEqual([4, 1, 2, 3]);
    expect(matchesQuery(tasks[0], '')).toBe(true);
  });
  it('orders by hour, minute, then id', () => {
    const same = [t(9, 'b', 6, 5, 'MON'), t(2, 'a', 6, 5, 'MON')];
    expect([...same].sort(byTime).map((x) => x.id)).toEqual([2, 9]);
  });
});
