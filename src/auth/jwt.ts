import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify'
import { FetchError, JwksNotAvailableInCacheError, NonRetryableFetchError } from 'aws-jwt-verify/error'
import type { Fetcher } from 'aws-jwt-verify/https'
import { SimpleJwksCache } from 'aws-jwt-verify/jwk'

export interface JwtConfig {
  issuer: string
  /** Accepted `aud` values; for Cognito access tokens, the app client ids (`client_id`). */
  audience: string[]
  /** Defaults to `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string
}

export type JwtOutcome =
  | { ok: true; subject: string; scopes: string[] }
  /** `cause`: why the issuer's keys could not be fetched, for the log of the 503. */
  | { ok: false; reason: 'invalid' | 'unavailable'; cause?: unknown }

const COGNITO_ISSUER = /^https:\/\/cognito-idp\.[a-z0-9-]+\.amazonaws\.com\/([\w-]+_\w+)$/
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * Fetches the JWKS with Node's fetch: over HTTPS, or plain HTTP to this
 * machine only (a local identity provider in development and tests).
 */
const jwksFetcher: Fetcher = {
  async fetch(uri: string): Promise<ArrayBuffer> {
    const url = new URL(uri)
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
      throw new NonRetryableFetchError(uri, 'JWKS must be served over HTTPS')
    }
    let res: Response
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(3000), redirect: 'error' })
    } catch (err) {
      // aws-jwt-verify's errors take no options: the network error is kept as the cause all the same.
      throw Object.assign(new FetchError(uri, (err as Error).message), { cause: err })
    }
    if (res.status !== 200) throw new NonRetryableFetchError(uri, `Status code is ${res.status}, expected 200`)
    return await res.arrayBuffer()
  }
}

function scopesOf(payload: Record<string, unknown>): string[] {
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(/\s+/).filter(Boolean) : []
  const groups = Array.isArray(payload['cognito:groups'])
    ? payload['cognito:groups'].filter(g => typeof g === 'string')
    : []
  return [...scopes, ...groups]
}

/** Verifies signature (keys from the issuer's JWKS, cached), issuer, audience, expiry and not-before. */
export function createJwtVerifier(config: JwtConfig): (token: string) => Promise<JwtOutcome> {
  const jwksCache = new SimpleJwksCache({ fetcher: jwksFetcher })
  const cognito = COGNITO_ISSUER.exec(config.issuer)
  const verifier =
    cognito && config.jwksUrl === undefined
      ? // Cognito access tokens carry the app client in client_id, not aud; its verifier checks either.
        CognitoJwtVerifier.create({ userPoolId: cognito[1]!, tokenUse: null, clientId: config.audience }, { jwksCache })
      : JwtVerifier.create(
          {
            issuer: config.issuer,
            audience: config.audience,
            jwksUri: config.jwksUrl ?? `${config.issuer.replace(/\/$/, '')}/.well-known/jwks.json`
          },
          { jwksCache }
        )

  return async token => {
    try {
      const payload = (await verifier.verify(token)) as Record<string, unknown>
      return { ok: true, subject: typeof payload.sub === 'string' ? payload.sub : 'unknown', scopes: scopesOf(payload) }
    } catch (err) {
      const unavailable =
        (err instanceof FetchError && !(err instanceof NonRetryableFetchError)) ||
        err instanceof JwksNotAvailableInCacheError
      return unavailable ? { ok: false, reason: 'unavailable', cause: err } : { ok: false, reason: 'invalid' }
    }
  }
}

/** Three base64url segments: worth verifying as a JWT rather than looking up as an API key. */
export const looksLikeJwt = (token: string): boolean => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)
