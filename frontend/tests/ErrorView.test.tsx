import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorView, errorTitle } from '../src/components/ErrorView';
import { AppContext, type AppServices } from '../src/context';

function mount(status: number, onRetry?: () => void) {
  const root = document.createElement('div');
  document.body.append(root);
  const signIn = vi.fn(() => Promise.resolve());
  const services = { auth: { signIn } } as unknown as AppServices;
  // act() runs the effects (the heading's focus) before the assertions.
  act(() => {
    render(
      <AppContext.Provider value={services}>
        <ErrorView status={status} onRetry={onRetry} />
      </AppContext.Provider>,
      root,
    );
  });
  return { root, signIn };
}

afterEach(() => {
  document.body.innerHTML = '';
});

describe('ErrorView', () => {
  it.each([
    [401, 'Please sign in again'],
    [403, 'You do not have access'],
    [404, 'Not found'],
    [500, 'Something went wrong on our side'],
    [503, 'Something went wrong on our side'],
  ])('%i has a clear heading', (status, title) => {
    expect(errorTitle(status)).toBe(title);
    const { root } = mount(status);
    expect(root.querySelector('h1')?.textContent).toBe(title);
  });

  it('focuses the heading so the change is announced', () => {
    const { root } = mount(404);
    expect(document.activeElement).toBe(root.querySelector('h1'));
  });

  it('offers a retry for 5xx that calls back', () => {
    const retry = vi.fn();
    const { root } = mount(503, retry);
    const button = [...root.querySelectorAll('button')].find((b) => b.textContent === 'Try again');
    expect(button).toBeDefined();
    button?.click();
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it('offers no retry where retrying cannot help', () => {
    for (const status of [401, 403, 404]) {
      const { root } = mount(status, vi.fn());
      expect([...root.querySelectorAll('button')].some((b) => b.textContent === 'Try again')).toBe(false);
      root.remove();
    }
  });

  it('401 starts a new sign-in that returns to this page', () => {
    window.history.replaceState(null, '', '/tasks/7');
    const { root, signIn } = mount(401);
    const button = [...root.querySelectorAll('button')].find((b) => b.textContent === 'Sign in');
    button?.click();
    expect(signIn).toHaveBeenCalledWith('/tasks/7');
  });

  it('403 and 404 lead back to the task list', () => {
    for (const status of [403, 404]) {
      const { root } = mount(status);
      expect(root.querySelector('a')?.getAttribute('href')).toBe('/tasks');
      root.remove();
    }
  });
});
