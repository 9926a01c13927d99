/**
 * The embedded emulators run inside the process that uses them (`npm run dev`,
 * `npm run stack`, tests), so a bug in one must not stop that process: an
 * error escaping an emulator's request handling fails that request with a 500
 * (the SDK retries it, then the app answers 503) and is logged; the process
 * and every other request carry on.
 */
import { create as createDomain } from 'node:domain'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

export interface Emulator {
  /** For the log line: `embedded S3`, `embedded DynamoDB`. */
  name: string
  server: Server
  /** Answers a request the emulator failed, in the form its clients parse. */
  fail: (res: ServerResponse) => void
}

/**
 * Runs each of the server's requests in a domain of its own. An emulator's
 * unhandled errors are thrown from stream and timer callbacks, where neither
 * a try/catch nor a promise reaches them; a domain is the one Node mechanism
 * that ties such an error back to the request that caused it.
 */
export function containRequestErrors(
  { name, server, fail }: Emulator,
  log: (message: string) => void = console.error
): void {
  const listeners = server.listeners('request') as RequestListener[]
  server.removeAllListeners('request')
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const domain = createDomain()
    domain.add(req)
    domain.add(res)
    domain.on('error', (err: Error) => {
      log(`${name} failed ${req.method} ${req.url?.split('?')[0]}: ${err.message}`)
      if (res.headersSent) res.destroy()
      else fail(res)
    })
    domain.run(() => {
      for (const listener of listeners) listener(req, res)
    })
  })
}

export const failS3 = (res: ServerResponse): void => {
  res.writeHead(500, { 'content-type': 'application/xml' })
  res.end(
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>The embedded S3 failed this request.</Message></Error>'
  )
}

export const failDynamoDb = (res: ServerResponse): void => {
  res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
  res.end(
    JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
      message: 'The embedded DynamoDB failed this request.'
    })
  )
}
