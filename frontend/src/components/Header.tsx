import { useApp } from '../context';
import { displayName } from '../auth/auth';

export function Header() {
  const { auth, user } = useApp();
  const name = displayName(user);
  return (
    <header class="site-header">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <a class="brand" href="/">
        City Tasks
      </a>
      <nav aria-label="Main">
        {user && <a href="/tasks">Tasks</a>}
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
          <button type="button" class="button small primary" onClick={() => auth.signIn('/tasks')}>
            Sign in
          </button>
        )}
      </div>
    </header>
  );
}
