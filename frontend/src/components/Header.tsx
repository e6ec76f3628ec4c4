import { useLocation } from 'preact-iso';
import { useApp } from '../context';
import { displayName } from '../auth/auth';
import { useSignIn } from '../auth/useSignIn';

export function Header() {
  const { auth, user } = useApp();
  const { path } = useLocation();
  const name = displayName(user);
  const [signIn, signInError] = useSignIn();
  return (
    <header class="site-header">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <a class="brand" href="/">
        City Tasks
      </a>
      <nav aria-label="Main">
        {user && (
          <a href="/tasks" aria-current={path.startsWith('/tasks') ? 'page' : undefined}>
            Tasks
          </a>
        )}
      </nav>
      <div class="account">
        {user ? (
          <>
            <span class="user-name" data-testid="user-name">
              {name}
            </span>
            <button type="button" class="button small" onClick={() => auth.signOut()}>
              Sign out
            </button>
          </>
        ) : (
          <>
            {signInError && (
              <span class="header-error" role="alert">
                {signInError}
              </span>
            )}
            <button type="button" class="button small primary" onClick={() => signIn('/tasks')}>
              Sign in
            </button>
          </>
        )}
      </div>
    </header>
  );
}
