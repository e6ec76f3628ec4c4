import { describe, expect, it } from 'vitest';
import { displayName, isCallback, safeReturnPath, userManagerSettings } from '../src/auth/auth';
import { parseConfig } from '../src/config';

const config = parseConfig(
  { authority: 'http://localhost:9229/us-east-1_LocalPool', clientId: 'city-tasks-web' },
  'http://localhost:8100',
);

const at = (href: string) => new URL(href) as unknown as Location;

describe('auth helpers', () => {
  it('names the user from the id token claims', () => {
    expect(displayName({ profile: { sub: 's', name: 'Demo User', email: 'd@x' } } as never)).toBe('Demo User');
    expect(displayName({ profile: { sub: 's', email: 'd@x' } } as never)).toBe('d@x');
    expect(displayName(null)).toBe('');
  });
  it('follows only in-app paths after sign-in', () => {
    expect(safeReturnPath('/tasks/4/edit')).toBe('/tasks/4/edit');
    expect(safeReturnPath('https://evil.example/')).toBe('/tasks');
    expect(safeReturnPath('//evil.example/')).toBe('/tasks');
    expect(safeReturnPath(undefined)).toBe('/tasks');
  });
  it('recognises the redirect back from the IdP', () => {
    expect(isCallback(config, at('http://localhost:8100/auth/callback?code=c&state=s'))).toBe(true);
    expect(isCallback(config, at('http://localhost:8100/auth/callback/?error=access_denied&state=s'))).toBe(true);
    expect(isCallback(config, at('http://localhost:8100/auth/callback'))).toBe(false);
    expect(isCallback(config, at('http://localhost:8100/tasks?code=c&state=s'))).toBe(false);
  });
  it('asks for the code flow with refresh-token renewal and no userInfo call', () => {
    const settings = userManagerSettings(config, window.localStorage);
    expect(settings.response_type).toBe('code');
    expect(settings.automaticSilentRenew).toBe(true);
    expect(settings.loadUserInfo).toBe(false);
    expect(settings.redirect_uri).toBe('http://localhost:8100/auth/callback');
    expect(settings.scope.split(' ')).toContain('openid');
  });
});
