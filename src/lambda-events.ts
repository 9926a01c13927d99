/** The API Gateway event shapes the handler serves: REST API (payload 1.0) and HTTP API (payload 2.0). */
export interface ApiGatewayEvent {
  version?: string
  httpMethod?: string
  rawPath?: string
  headers?: Record<string, string | undefined> | null
  requestContext?: { requestId?: string, http?: { method: string } }
  body?: string | null
  isBase64Encoded?: boolean
}

export function isApiGatewayEvent (event: unknown): event is ApiGatewayEvent {
  if (typeof event !== 'object' || event === null) return false
  const e = event as ApiGatewayEvent
  return e.requestContext !== undefined && (typeof e.httpMethod === 'string' || typeof e.requestContext.http?.method === 'string')
}

/** API Gateway's request id becomes ours; a client-sent X-Request-Id is dropped, not trusted. */
export function withGatewayRequestId<T extends ApiGatewayEvent> (event: T): T {
  const requestId = event.requestContext?.requestId
  const headers: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() !== 'x-request-id') headers[name] = value
  }
  if (requestId !== undefined) headers['x-request-id'] = requestId
  return { ...event, headers }
}

const TEXTUAL = /^(text\/|application\/(json|[\w.+-]+\+json|javascript|xml|[\w.+-]+\+xml|x-www-form-urlencoded)|image\/svg\+xml)/

/** Anything not textual (images, fonts, octet streams) or compressed goes back base64-encoded. */
export function isBinaryResponse (res: { headers: Record<string, unknown> }): boolean {
  const encoding = String(res.headers['content-encoding'] ?? 'identity')
  if (encoding !== 'identity') return true
  const type = String(res.headers['content-type'] ?? '')
  return type !== '' && !TEXTUAL.test(type)
}
