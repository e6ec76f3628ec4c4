import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { useApp } from '../context';
import { useSignIn } from '../auth/useSignIn';

/** Pages behind login: without a user, the browser goes to the hosted UI and comes back here. */
export function RequireAuth({ children }: { children: ComponentChildren }) {
  const { user } = useApp();
  const [signIn, error] = useSignIn();
  useEffect(() => {
    if (!user) signIn();
  }, [user, signIn]);
  if (!user && error) {
    return (
      <section class="error-page">
        <h1 tabIndex={-1}>Sign-in is unavailable</h1>
        <p role="alert">{error}</p>
        <button type="button" class="button primary" onClick={() => signIn()}>
          Try again
        </button>
      </section>
    );
  }
  if (!user) {
    return (
      <p class="loading" role="status">
        Taking you to sign in…
      </p>
    );
  }
  return <>{children}</>;
}
