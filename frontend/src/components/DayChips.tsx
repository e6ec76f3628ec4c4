import { type Day, WEEK, dayLabel } from '../lib/days';

interface Props {
  value: Day[];
  onChange: (days: Day[]) => void;
  error?: string;
}

const PRESETS: { label: string; days: Day[] }[] = [
  { label: 'Weekdays', days: ['MON', 'TUE', 'WED', 'THU', 'FRI'] },
  { label: 'Weekends', days: ['SAT', 'SUN'] },
  { label: 'Every day', days: [...WEEK] },
];

/** Days as toggle chips: real checkboxes in a fieldset, so keyboard and screen readers work as usual. */
export function DayChips({ value, onChange, error }: Props) {
  const chosen = new Set(value);
  const toggle = (day: Day) => {
    const next = new Set(chosen);
    if (next.has(day)) next.delete(day);
    else next.add(day);
    onChange(WEEK.filter((d) => next.has(d)));
  };
  return (
    <fieldset
      class={`field day-chips${error ? ' invalid' : ''}`}
      id="field-executionDays"
      tabIndex={-1}
      aria-describedby={error ? 'error-executionDays' : undefined}
    >
      <legend>Days</legend>
      <div class="chips">
        {WEEK.map((day) => (
          <label class="chip" key={day}>
            <input
              type="checkbox"
              name="executionDays"
              value={day}
              checked={chosen.has(day)}
              onChange={() => toggle(day)}
              aria-label={dayLabel(day, 'long')}
              aria-invalid={error ? 'true' : undefined}
            />
            <span aria-hidden="true">{dayLabel(day)}</span>
          </label>
        ))}
      </div>
      <div class="presets">
        {PRESETS.map((preset) => (
          <button type="button" class="button small" key={preset.label} onClick={() => onChange(preset.days)}>
            {preset.label}
          </button>
        ))}
      </div>
      {error && (
        <p class="field-error" id="error-executionDays">
          {error}
        </p>
      )}
    </fieldset>
  );
}
