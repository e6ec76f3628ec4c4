import { describe, expect, it } from 'vitest';
import { cleanMessage, fieldErrors, fieldFromLocation, problemSummary, readProblem } from '../src/lib/problems';

describe('fieldFromLocation', () => {
  it.each([
    ['name', 'name'],
    ['body.timeZone', 'timeZone'],
    ['/executionDays', 'executionDays'],
    ['#/hour', 'hour'],
    [['body', 'deviceId'], 'deviceId'],
    [['body', 'execution_days'], 'executionDays'],
    [['query', 'limit'], 'limit'],
    [['body'], null],
    [42, null],
  ])('%j -> %s', (input, expected) => {
    expect(fieldFromLocation(input)).toBe(expected);
  });
});

describe('fieldErrors', () => {
  it('maps the API errors list to one message per field', () => {
    const problem = {
      type: 'about:blank',
      title: 'Validation failed',
      status: 422,
      errors: [
        { field: 'timeZone', message: 'unknown time zone Mars/Olympus' },
        { field: 'hour', message: 'must be between 0 and 23' },
        { field: 'hour', message: 'second message is ignored' },
      ],
    };
    expect(fieldErrors(problem)).toEqual({
      timeZone: 'Unknown time zone Mars/Olympus',
      hour: 'Must be between 0 and 23',
    });
  });
  it('accepts pydantic-style loc/msg and JSON pointers', () => {
    expect(
      fieldErrors({
        errors: [
          { loc: ['body', 'name'], msg: 'String should have at least 1 character' },
          { pointer: '#/executionDays', detail: 'unknown day XYZ' },
        ],
      }),
    ).toEqual({ name: 'String should have at least 1 character', executionDays: 'Unknown day XYZ' });
  });
  it("reads FastAPI's default 422 detail list too", () => {
    expect(fieldErrors({ detail: [{ loc: ['body', 'minute'], msg: 'too big' }] } as never)).toEqual({
      minute: 'Too big',
    });
  });
  it('reads a {field: messages} map', () => {
    expect(fieldErrors({ errors: { name: ['too long'], status: 'bad' } })).toEqual({
      name: 'too long',
      status: 'bad',
    });
  });
  it('puts errors without a field under _form and never throws on junk', () => {
    expect(fieldErrors({ errors: [{ message: 'body must be an object' }, null, 'x'] })).toEqual({
      _form: 'Body must be an object',
    });
    expect(fieldErrors(null)).toEqual({});
    expect(fieldErrors({ errors: 'nope' })).toEqual({});
  });
});

describe('cleanMessage', () => {
  it("drops pydantic's 'Value error, ' prefix and capitalises", () => {
    expect(cleanMessage('Value error, is not a known IANA time zone')).toBe('Is not a known IANA time zone');
    expect(cleanMessage('  must be ACT or INA ')).toBe('Must be ACT or INA');
  });
});

describe('problemSummary', () => {
  it('prefers detail, then title, then a sentence for the status', () => {
    expect(problemSummary({ title: 'T', detail: 'D' })).toBe('D');
    expect(problemSummary({ title: 'T' })).toBe('T');
    expect(problemSummary(null, 412)).toMatch(/changed elsewhere/);
    expect(problemSummary(null, 503)).toMatch(/try again/i);
  });
});

describe('readProblem', () => {
  it('parses problem+json and ignores other bodies', async () => {
    const problem = new Response(JSON.stringify({ title: 'Nope', status: 404 }), {
      status: 404,
      headers: { 'content-type': 'application/problem+json' },
    });
    expect(await readProblem(problem)).toEqual({ title: 'Nope', status: 404 });
    expect(await readProblem(new Response('<html>', { headers: { 'content-type': 'text/html' } }))).toBeNull();
    expect(
      await readProblem(new Response('{bad', { headers: { 'content-type': 'application/json' } })),
    ).toBeNull();
  });
});
