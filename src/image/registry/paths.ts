// URL pieces shared by reads and uploads.

import { repositoryScope } from './auth.js';

/** Repository names are validated by the reference parser; keep their slashes. */
export function encodeRepo(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

export function pullScope(repo: string): string {
  return repositoryScope(repo, ['pull']);
}

export function pushScope(repo: string): string {
  return repositoryScope(repo, ['pull', 'push']);
}

export const REDIRECTS = new Set([301, 302, 303, 307, 308]);
