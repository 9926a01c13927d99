/**
 * The security headers the app writes out (SECURITY_HEADERS) against the ones
 * helmet sets with the app's options: a helmet release that changes its
 * policy fails here, and the constant is updated to what it now sets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet from 'helmet'
import t from 'tap'
import { HELMET_OPTIONS, SECURITY_HEADERS } from '../src/plugins/external/security-headers.ts'
import { buildTestApp } from './helper.ts'

function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader: (name: string, value: string) => {
      headers[name.toLowerCase()] = value
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()]
    }
  }
  helmet(HELMET_OPTIONS)({} as IncomingMessage, res as unknown as ServerResponse, () => {})
  return headers
}

t.test('SECURITY_HEADERS are exactly what helmet sets with HELMET_OPTIONS', async t => {
  t.same(SECURITY_HEADERS, helmetHeaders())
})

t.test('every API response, answered or refused, carries them', async t => {
  const { app } = await buildTestApp(t)
  for (const url of ['/health', '/data/not-a-uuid', '/nowhere']) {
    const res = await app.inject({ method: 'GET', url })
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) t.equal(res.headers[name], value, `${url}: ${name}`)
  }
})
