/**
 * The embedded emulators run inside the process that uses them (`npm run dev`,
 * `npm run stack`, tests), so a bug in one must not stop that process: an
 * error escaping an emulator's request handling fails that request with a 500
 * (the SDK retries it, then the app answers 503) and is logged; the process
 * and every other request carry on.
 */
import { create as createDomain } from 'node:domain'
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { join } from 'node:path'
import type S3rver from 's3rver'
import { TaggingConfiguration } from 's3rver/lib/models/config.js'
import S3Error from 's3rver/lib/models/error.js'

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

/**
 * s3rver completes a multipart upload from whatever part files it finds and
 * never compares ETags; S3 refuses with InvalidPart when a listed part was not
 * uploaded or its ETag differs. The embedded S3 does the same.
 */
export function checkPartsOnComplete(s3: S3rver): void {
  const store = s3.store
  const complete = store.putObjectMultipart.bind(store)
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const dir = join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId)
    for (const part of parts) {
      const md5 = await readFile(join(dir, `${part.number}.md5`), 'utf8').then(
        text => text.trim(),
        () => undefined
      )
      if (md5 === undefined || md5 !== part.etag) {
        throw new S3Error(
          'InvalidPart',
          "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."
        )
      }
    }
    return await complete(bucket, uploadId, parts)
  }
}

/**
 * s3rver keeps object tags only through `PUT ?tagging`: it ignores the `x-amz-tagging` header of PutObject, sends no
 * `x-amz-tagging-count` with GetObject, refuses DeleteObjectTagging, and keeps an object's tags after the object is
 * deleted. S3 does all four, and /data relies on them (uncommitted payloads are tagged to expire); the embedded S3
 * does them too. Call before `run()`: the middleware goes in ahead of s3rver's router.
 */
export function tagObjectsLikeS3(s3: S3rver): void {
  const store = s3.store
  const put = store.putObject.bind(store)
  store.putObject = async object => {
    const result = await put(object)
    const header = object.content?.headers?.['x-amz-tagging']
    if (typeof header === 'string' && header !== '') {
      const tags = [...new URLSearchParams(header)]
        .map(([key, value]) => `<Tag><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value></Tag>`)
        .join('')
      await store.putSubresource(
        object.bucket,
        object.key,
        TaggingConfiguration.validate(`<Tagging><TagSet>${tags}</TagSet></Tagging>`)
      )
    } else {
      await store.deleteSubresource(object.bucket, object.key, 'tagging')
    }
    return result
  }
  const remove = store.deleteObject.bind(store)
  store.deleteObject = async (bucket, key) => {
    await store.deleteSubresource(bucket, key, 'tagging')
    return await remove(bucket, key)
  }

  const router = s3.middleware.pop()!
  s3.middleware.push(async (ctx, next) => {
    const [bucket, ...parts] = ctx.path.slice(1).split('/')
    const key = parts.map(decodeURIComponent).join('/')
    if (bucket === undefined || key === '') return await next()
    if (ctx.method === 'DELETE' && 'tagging' in ctx.query) {
      if (!(await store.existsObject(bucket, key)))
        throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key })
      await store.deleteSubresource(bucket, key, 'tagging')
      ctx.status = 204
      return
    }
    await next()
    // GetObject itself: no subresource in the query (the SDK adds x-id; response-* only override headers).
    const subresource = Object.keys(ctx.query).some(name => name !== 'x-id' && !name.startsWith('response-'))
    if (ctx.method === 'GET' && !subresource && ctx.status === 200) {
      const tagging = await store.getSubresource(bucket, key, 'tagging')
      const tags = [tagging?.rawConfig?.Tagging?.TagSet?.Tag ?? []].flat()
      if (tags.length > 0) ctx.set('x-amz-tagging-count', String(tags.length))
    }
  })
  s3.middleware.push(router)
}

const escapeXml = (text: string): string => text.replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`)
