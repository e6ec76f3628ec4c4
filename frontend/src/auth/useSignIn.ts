import { useCallback, useState } from 'preact/hooks';
import { useApp } from '../context';

/**
 * Start the hosted-UI sign-in; when the IdP cannot be reached (its discovery document fails to load) say so
 * instead of leaving an unhandled rejection in the console.
 */
export function useSignIn(): [(returnTo?: string) => void, string] {
  const { auth } = useApp();
  const [error, setError] = useState('');
  const start = useCallback(
    (returnTo?: string) => {
      setError('');
      auth.signIn(returnTo ?? window.location.pathname + window.location.search).catch(() => {
        setError('The sign-in service cannot be reached right now. Please try again in a moment.');
      });
    },
    [auth],
  );
  return [start, error];
}
