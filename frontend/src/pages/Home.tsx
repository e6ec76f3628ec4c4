import { PageHeading } from '../components/PageHeading';
import { useApp } from '../context';
import { displayName } from '../auth/auth';
import { useSignIn } from '../auth/useSignIn';

export function Home() {
  const { user } = useApp();
  const [signIn, error] = useSignIn();
  return (
    <section class="home">
      <PageHeading title="City Tasks" />
      <p class="lead">
        Schedule the city's devices: switch them on or off at the times and on the days you choose, in your own
        time zone.
      </p>
      {user ? (
        <p>
          Welcome back, {displayName(user)}.{' '}
          <a class="button primary" href="/tasks">
            Go to your tasks
          </a>
        </p>
      ) : (
        <p>
          <button type="button" class="button primary" onClick={() => signIn('/tasks')}>
            Sign in to manage your tasks
          </button>
        </p>
      )}
      {!user && error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
