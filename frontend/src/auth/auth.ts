/**
 * Sign-in with the IdP's hosted UI (authorization code + PKCE, via oidc-client-ts), renewal with the refresh
 * token, and sign-out through the IdP's /logout as Cognito expects it.
 */
import { type User, UserManager, WebStorageStateStore } from 'oidc-client-ts';
import { type AppConfig, logoutUrl } from '../config';

export interface ReturnState {
  returnTo?: string;
}

export function userManagerSettings(config: AppConfig, store: Storage) {
  return {
    authority: config.authority,
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    post_logout_redirect_uri: config.logoutUri,
    response_type: 'code',
    scope: config.scope,
    // Shared by the tabs of one browser: a task opened in a second tab needs no second login.
    userStore: new WebStorageStateStore({ store }),
    // oidc-client-ts renews with the refresh token when it has one (Cognito gives one for the code grant).
    automaticSilentRenew: true,
    // The id token already carries name and email; Cognito's userInfo would cost a request per login.
    loadUserInfo: false,
    monitorSession: false,
  };
}

/** The name shown in the header. */
export function displayName(user: Pick<User, 'profile'> | null | undefined): string {
  const profile = user?.profile;
  if (!profile) return '';
  const candidates = [profile.name, profile.given_name, profile.email, profile['cognito:username'], profile.sub];
  const found = candidates.find((value) => typeof value === 'string' && value.trim());
  return typeof found === 'string' ? found.trim() : '';
}

/** Only same-app paths are followed after sign-in (never a URL an attacker put in the state). */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return '/tasks';
  return value;
}

/** True when the current address is the IdP redirecting back to us. */
export function isCallback(config: AppConfig, location: Location): boolean {
  const target = new URL(config.redirectUri, location.origin);
  if (target.origin !== location.origin) return false;
  const normalize = (path: string) => path.replace(/\/+$/, '') || '/';
  if (normalize(target.pathname) !== normalize(location.pathname)) return false;
  const params = new URLSearchParams(location.search);
  return params.has('state') && (params.has('code') || params.has('error'));
}

export class Auth {
  readonly manager: UserManager;
  private readonly config: AppConfig;
  private listeners = new Set<(user: User | null) => void>();
  private signingOut = false;

  constructor(config: AppConfig, store: Storage = window.localStorage) {
    this.config = config;
    this.manager = new UserManager(userManagerSettings(config, store));
    this.manager.events.addUserLoaded((user) => this.emit(user));
    this.manager.events.addUserUnloaded(() => this.emit(null));
    this.manager.events.addUserSignedOut(() => this.emit(null));
    this.manager.events.addSilentRenewError(() => {
      // A refresh token that the IdP no longer honours: the next API call will ask for a new login.
    });
  }

  onChange(listener: (user: User | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(user: User | null) {
    // While leaving for the IdP's /logout, the pages must not react (a protected page would start a new
    // sign-in and race the logout navigation).
    if (this.signingOut) return;
    for (const listener of this.listeners) listener(user);
  }

  /** The signed-in user, renewed with the refresh token when the access token has expired. */
  async currentUser(): Promise<User | null> {
    const user = await this.manager.getUser();
    if (!user) return null;
    if (!user.expired) return user;
    if (!user.refresh_token) return null;
    try {
      return await this.manager.signinSilent();
    } catch {
      await this.manager.removeUser();
      return null;
    }
  }

  async accessToken(): Promise<string | null> {
    return (await this.currentUser())?.access_token ?? null;
  }

  signIn(returnTo: string): Promise<void> {
    const state: ReturnState = { returnTo: safeReturnPath(returnTo) };
    return this.manager.signinRedirect({ state });
  }

  /** Finish the code exchange; returns the in-app path to go back to. */
  async completeSignIn(url: string): Promise<string> {
    const user = await this.manager.signinRedirectCallback(url);
    return safeReturnPath((user.state as ReturnState | undefined)?.returnTo);
  }

  /** Forget the tokens here, then end the IdP session: Cognito's /logout is not in its discovery document. */
  async signOut(): Promise<void> {
    this.signingOut = true;
    await this.manager.removeUser();
    await this.manager.clearStaleState();
    window.location.assign(logoutUrl(this.config));
  }
}
