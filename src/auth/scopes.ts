/**
 * Scopes are colon-separated segments: `users:read`, `projects:p1:write`.
 * In a granted scope `*` matches any one segment, and a final `*` matches the
 * rest: `projects:*:read` reaches every project's read, `users:*` every users
 * scope, `*` everything.
 */
export function grants(granted: string, required: string): boolean {
  const have = granted.split(':')
  const want = required.split(':')
  for (let i = 0; i < have.length; i++) {
    const segment = have[i]
    if (segment === '*' && i === have.length - 1) return want.length >= have.length
    if (i >= want.length) return false
    if (segment !== '*' && segment !== want[i]) return false
  }
  return have.length === want.length
}

/** The required scopes the granted ones do not cover. */
export function missingScopes(granted: readonly string[], required: readonly string[]): string[] {
  return required.filter(scope => !granted.some(g => grants(g, scope)))
}

const SEGMENT = /^(\*|[A-Za-z0-9_.-]{1,128})$/

export function isValidScope(scope: string): boolean {
  return scope.length <= 512 && scope.split(':').every(segment => SEGMENT.test(segment))
}

const RESOURCE_ID = /^[A-Za-z0-9_.-]{1,128}$/

/** `projects:<projectId>:<action>`, or undefined for an id that could be read as several segments or a wildcard. */
export function projectScope(projectId: string, action: 'read' | 'write'): string[] | undefined {
  return RESOURCE_ID.test(projectId) ? [`projects:${projectId}:${action}`] : undefined
}
