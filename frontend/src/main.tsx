import { render } from 'preact';
import { App } from './App';
import { Auth, isCallback } from './auth/auth';
import { ConfigError, loadConfig } from './config';
import './styles.css';

async function start(root: HTMLElement) {
  const config = await loadConfig();
  const auth = new Auth(config);
  if (isCallback(config, window.location)) {
    try {
      const returnTo = await auth.completeSignIn(window.location.href);
      window.history.replaceState(null, '', returnTo);
    } catch (error) {
      // A stale or replayed callback (e.g. the back button): start clean from the home page.
      window.history.replaceState(null, '', '/');
      showStartupProblem(root, 'Sign-in did not complete. Please try again.', String(error), true);
      return;
    }
  }
  const initialUser = await auth.currentUser();
  root.textContent = ''; // the static "Loading…" placeholder
  render(<App config={config} auth={auth} initialUser={initialUser} />, root);
}

function showStartupProblem(root: HTMLElement, title: string, detail: string, offerHome = false) {
  root.innerHTML = '';
  const main = document.createElement('main');
  main.id = 'main';
  main.className = 'startup-problem';
  const h1 = document.createElement('h1');
  h1.textContent = title;
  h1.tabIndex = -1;
  const p = document.createElement('p');
  p.textContent = detail;
  main.append(h1, p);
  if (offerHome) {
    const a = document.createElement('a');
    a.href = '/';
    a.className = 'button primary';
    a.textContent = 'Back to the home page';
    main.append(a);
  }
  root.append(main);
  h1.focus();
}

const root = document.getElementById('app');
if (root) {
  start(root).catch((error: unknown) => {
    const detail = error instanceof ConfigError ? error.message : String(error);
    showStartupProblem(root, 'City Tasks could not start', detail);
  });
}
