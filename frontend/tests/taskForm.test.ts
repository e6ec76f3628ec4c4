import { describe, expect, it } from 'vitest';
import type { Task } from '../src/api/types';
import { emptyForm, errorsForForm, firstInvalidField, formFromTask, toTaskWrite, validateForm } from '../src/lib/taskForm';

const task: Task = {
  id: 7,
  jobId: 'job-7',
  name: 'Street lights',
  description: 'Evening',
  hour: 18,
  minute: 5,
  executionDays: 'MON,WED,FRI',
  executionCommand: null,
  executeUntil: '2027-01-31T23:59:59-05:00',
  timeZone: 'America/Guayaquil',
  status: 'INA',
  deviceId: 'lamp-1',
  deviceOperation: 'ACTIVATE',
  createdAt: '2026-11-01T00:00:00Z',
  updatedAt: '2026-11-01T00:00:00Z',
  nextRunAt: null,
};

describe('task form', () => {
  it('starts in the given zone with no days', () => {
    const form = emptyForm('Europe/Madrid');
    expect(form.timeZone).toBe('Europe/Madrid');
    expect(form.days).toEqual([]);
    expect(form.status).toBe('ACT');
  });

  it('round-trips a task through the form', () => {
    const form = formFromTask(task);
    expect(form.time).toBe('18:05');
    expect(form.days).toEqual(['MON', 'WED', 'FRI']);
    expect(form.untilDate).toBe('2027-01-31');
    expect(toTaskWrite(form)).toEqual({
      name: 'Street lights',
      description: 'Evening',
      hour: 18,
      minute: 5,
      executionDays: 'MON,WED,FRI',
      executionCommand: null,
      executeUntil: '2027-01-31T23:59:59-05:00',
      timeZone: 'America/Guayaquil',
      status: 'INA',
      deviceId: 'lamp-1',
      deviceOperation: 'ACTIVATE',
    });
  });

  it('sends nulls for empty optional fields and trims text', () => {
    const body = toTaskWrite({ ...emptyForm('UTC'), name: '  Pump  ', days: ['SUN', 'MON'], time: '07:30' });
    expect(body).toMatchObject({
      name: 'Pump',
      description: null,
      deviceId: null,
      deviceOperation: null,
      executeUntil: null,
      executionDays: 'MON,SUN',
      hour: 7,
      minute: 30,
    });
  });

  it('leaves an unknown zone for the API to judge', () => {
    const body = toTaskWrite({ ...emptyForm('UTC'), name: 'x', days: ['MON'], timeZone: 'Mars/Base', untilDate: '2027-02-01' });
    expect(body.timeZone).toBe('Mars/Base');
    expect(body.executeUntil).toBe('2027-02-01T23:59:59Z');
  });

  it('checks only what the browser can know', () => {
    const errors = validateForm({ ...emptyForm('UTC'), name: '   ', time: '25:00', timeZone: '' });
    expect(Object.keys(errors).sort()).toEqual(['executionDays', 'name', 'time', 'timeZone']);
    expect(firstInvalidField(errors)).toBe('name');
    expect(validateForm({ ...emptyForm('UTC'), name: 'ok', days: ['MON'] })).toEqual({});
    expect(validateForm({ ...emptyForm('UTC'), name: 'x'.repeat(61), days: ['MON'] }).name).toMatch(/60/);
  });

  it('shows hour and minute errors under the time input', () => {
    expect(errorsForForm({ hour: 'too big', minute: 'also', name: 'n' })).toEqual({ time: 'too big', name: 'n' });
    expect(firstInvalidField({ timeZone: 'x', executionDays: 'y' })).toBe('executionDays');
  });
});
