/** The clear pages for 401, 403, 404 and 5xx; the 5xx one offers a retry. */
import { useSignIn } from '../auth/useSignIn';
import { PageHeading } from './PageHeading';

export interface ErrorViewProps {
  status: number;
  message?: string;
  onRetry?: () => void;
}

export function errorTitle(status: number): string {
  if (status === 401) return 'Please sign in again';
  if (status === 403) return 'You do not have access';
  if (status === 404) return 'Not found';
  if (status >= 500) return 'Something went wrong on our side';
  return 'Something went wrong';
}

export function ErrorView({ status, message, onRetry }: ErrorViewProps) {
  const [signIn, signInError] = useSignIn();
  const title = errorTitle(status);
  return (
    <section class="error-page" aria-labelledby="error-title" data-status={status}>
      <p class="error-code" aria-hidden="true">
        {status}
      </p>
      <div id="error-title">
        <PageHeading title={title} />
      </div>
      {status === 401 && (
        <>
          <p>{message ?? 'Your session has ended or is no longer valid.'}</p>
          <button type="button" class="button primary" onClick={() => signIn()}>
            Sign in
          </button>
          {signInError && <p role="alert">{signInError}</p>}
        </>
      )}
      {status === 403 && (
        <>
          <p>{message ?? 'Your account is not allowed to do this. Ask an administrator for access.'}</p>
          <a class="button" href="/tasks">
            Back to your tasks
          </a>
        </>
      )}
      {status === 404 && (
        <>
          <p>{message ?? 'The page or task you asked for does not exist, or it is not yours.'}</p>
          <a class="button" href="/tasks">
            Back to your tasks
          </a>
        </>
      )}
      {status >= 500 && (
        <>
          <p>{message ?? 'The service did not answer as expected. It is usually back in a moment.'}</p>
          {onRetry && (
            <button type="button" class="button primary" onClick={onRetry}>
              Try again
            </button>
          )}
        </>
      )}
      {![401, 403, 404].includes(status) && status < 500 && <p>{message}</p>}
    </section>
  );
}
