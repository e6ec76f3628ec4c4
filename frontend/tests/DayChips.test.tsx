import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DayChips } from '../src/components/DayChips';
import type { Day } from '../src/lib/days';

function mount(value: Day[], error?: string) {
  const root = document.createElement('div');
  document.body.append(root);
  const onChange = vi.fn();
  act(() => render(<DayChips value={value} onChange={onChange} error={error} />, root));
  return { root, onChange };
}

afterEach(() => {
  document.body.innerHTML = '';
});

describe('DayChips', () => {
  it('is a labelled group of seven checkboxes named by the full day', () => {
    const { root } = mount(['WED']);
    expect(root.querySelector('legend')?.textContent).toBe('Days');
    const boxes = [...root.querySelectorAll<HTMLInputElement>('input[type=checkbox]')];
    expect(boxes.map((b) => b.getAttribute('aria-label'))).toEqual([
      'Monday',
      'Tuesday',
      'Wednesday',
      'Thursday',
      'Friday',
      'Saturday',
      'Sunday',
    ]);
    expect(boxes.filter((b) => b.checked).map((b) => b.value)).toEqual(['WED']);
  });

  it('toggling keeps week order', () => {
    const { root, onChange } = mount(['FRI']);
    act(() => root.querySelector<HTMLInputElement>('input[value=MON]')?.click());
    expect(onChange).toHaveBeenLastCalledWith(['MON', 'FRI']);
  });

  it('unchecking removes the day', () => {
    const { root, onChange } = mount(['MON', 'FRI']);
    act(() => root.querySelector<HTMLInputElement>('input[value=FRI]')?.click());
    expect(onChange).toHaveBeenLastCalledWith(['MON']);
  });

  it('presets choose weekdays, weekends or every day', () => {
    const { root, onChange } = mount([]);
    const preset = (label: string) =>
      [...root.querySelectorAll('button')].find((b) => b.textContent === label) as HTMLButtonElement;
    act(() => preset('Weekends').click());
    expect(onChange).toHaveBeenLastCalledWith(['SAT', 'SUN']);
    act(() => preset('Weekdays').click());
    expect(onChange).toHaveBeenLastCalledWith(['MON', 'TUE', 'WED', 'THU', 'FRI']);
    act(() => preset('Every day').click());
    expect(onChange.mock.lastCall?.[0]).toHaveLength(7);
  });

  it('shows the error and ties it to the group', () => {
    const { root } = mount([], 'Choose at least one day.');
    const group = root.querySelector('fieldset');
    expect(group?.getAttribute('aria-describedby')).toBe('error-executionDays');
    expect(root.querySelector('#error-executionDays')?.textContent).toBe('Choose at least one day.');
    expect(root.querySelector('input')?.getAttribute('aria-invalid')).toBe('true');
  });
});
