/**
 * Who a request's credential says it is: an API key (`x-api-key`, or
 * `Authorization: Bearer <key>`) looked up by hash, or a JWT from the
 * configured issuer. Keys kept in Secrets Manager or SSM are read once, when
 * the resolver is made (on Lambda: at cold start).
 */
import type { IncomingHttpHeaders } from 'node:http'
import { ApiKeyStore, type ApiKey } from './api-keys.ts'
import type { JwtConfig } from './jwt.ts'
import { loadSecretApiKeys, type KeySource } from './key-source.ts'

export interface Principal {
  kind: 'apiKey' | 'jwt'
  /** The key's id, or `jwt:<sub>`: what logs and rate limits know a caller by. */
  id: string
  scopes: string[]
}

/** No credential, one that is not valid, or an issuer whose keys cannot be fetched now. */
export type AuthFailure = 'missing' | 'invalid' | 'unavailable'

/** `cause`: what made the credential impossible to check (`unavailable`), kept for the log. */
export type Resolution = { principal: Principal } | { failure: AuthFailure; cause?: unknown }

/** What the OpenAPI document declares: the two ways to send a credential. */
export const SECURITY_SCHEMES = {
  apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An API key (npm run keys:create)' },
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key, or a JWT from the configured issuer (Cognito or any OIDC provider)'
  }
} as const

function presentedCredential(
  headers: IncomingHttpHeaders
): { scheme: 'bearer' | 'apiKey'; value: string } | undefined | 'malformed' {
  const authorization = headers.authorization
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    return match ? { scheme: 'bearer', value: match[1]! } : 'malformed'
  }
  const key = headers['x-api-key']
  if (typeof key === 'string' && key !== '') return { scheme: 'apiKey', value: key }
  return undefined
}

export interface CredentialSources {
  apiKeys: readonly ApiKey[]
  /** Where more keys are kept (Secrets Manager or SSM), if anywhere. */
  keySource: KeySource
  jwt?: JwtConfig
}

export async function createCredentialResolver(
  sources: CredentialSources
): Promise<(headers: IncomingHttpHeaders) => Promise<Resolution>> {
  const keys = new ApiKeyStore([...sources.apiKeys, ...(await loadSecretApiKeys(sources.keySource))])
  // JWT verification (aws-jwt-verify) is loaded only where an issuer is configured.
  const jwt = sources.jwt ? await import('./jwt.ts') : undefined
  const verifyJwt = sources.jwt ? jwt?.createJwtVerifier(sources.jwt) : undefined

  return async headers => {
    const credential = presentedCredential(headers)
    if (credential === undefined) return { failure: 'missing' }
    if (credential === 'malformed') return { failure: 'invalid' }
    if (credential.scheme === 'bearer' && verifyJwt !== undefined && jwt?.looksLikeJwt(credential.value)) {
      const outcome = await verifyJwt(credential.value)
      return outcome.ok
        ? { principal: { kind: 'jwt', id: `jwt:${outcome.subject}`, scopes: outcome.scopes } }
        : { failure: outcome.reason, cause: outcome.cause }
    }
    const key = keys.find(credential.value)
    return key === undefined
      ? { failure: 'invalid' }
      : { principal: { kind: 'apiKey', id: key.id, scopes: key.scopes } }
  }
}
