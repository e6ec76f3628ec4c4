import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { useApp } from '../context';

/** Pages behind login: without a user, the browser goes to the hosted UI and comes back here. */
export function RequireAuth({ children }: { children: ComponentChildren }) {
  const { auth, user } = useApp();
  useEffect(() => {
    if (!user) void auth.signIn(window.location.pathname + window.location.search);
  }, [user, auth]);
  if (!user) {
    return (
      <p class="loading" role="status">
        Taking you to sign in…
      </p>
    );
  }
  return <>{children}</>;
}
