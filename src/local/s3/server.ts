/**
 * The embedded S3's HTTP side: S3's REST API, path-style, for the operations
 * the app, its tests and the presigned URLs use (buckets, objects with
 * metadata, tags, ranges and versions, multipart uploads, listings of keys and
 * of versions), with S3's status codes and error documents. Signatures are
 * not checked (any credentials pass), and any origin may call it from a browser.
 */
import { randomBytes } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { requestBody } from './aws-chunked.ts'
import { invalidArgument, malformedXml, notImplemented, S3Error } from './errors.ts'
import { listObjects, listUploads, listVersions, OWNER } from './listing.ts'
import type { ObjectAttributes, ObjectStore } from './store.ts'
import { elements, text, xmlDocument, type XmlBody } from './xml.ts'

/** Query parameters that name no subresource: listing options, the SDK's `x-id`, a presigned URL's signature. */
const PLAIN_PARAMETERS = new Set([
  'x-id',
  'versionId',
  'prefix',
  'delimiter',
  'max-keys',
  'marker',
  'key-marker',
  'version-id-marker',
  'continuation-token',
  'start-after',
  'fetch-owner',
  'encoding-type',
  'list-type',
  'partNumber',
  'uploadId'
])
const SUBRESOURCES = new Set(['uploads', 'tagging', 'versioning', 'versions', 'location'])
/** Representation headers S3 stores with an object and answers with it. */
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-language', 'expires']
const EXPOSED_HEADERS = [
  'ETag',
  'Content-Length',
  'Content-Range',
  'x-amz-version-id',
  'x-amz-delete-marker',
  'x-amz-request-id',
  'x-amz-tagging-count'
].join(', ')
/** Largest XML request body read (tags, versioning, a CompleteMultipartUpload of 10,000 parts). */
const MAX_XML_BYTES = 2 * 1024 * 1024

interface Request {
  req: IncomingMessage
  res: ServerResponse
  method: string
  bucket: string
  key: string
  query: URLSearchParams
}

export function embeddedS3Handler(store: ObjectStore): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    res.setHeader('x-amz-request-id', randomBytes(8).toString('hex').toUpperCase())
    const origin = req.headers.origin
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin)
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS)
      res.setHeader('vary', 'Origin')
    }
    void route(store, req, res).catch((err: unknown) => sendError(req, res, err))
  }
}

async function route(store: ObjectStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET'
  if (method === 'OPTIONS') return preflight(req, res)
  const raw = req.url ?? '/'
  const queryAt = raw.indexOf('?')
  const path = queryAt < 0 ? raw : raw.slice(0, queryAt)
  const query = new URLSearchParams(queryAt < 0 ? '' : raw.slice(queryAt + 1))
  const slash = path.indexOf('/', 1)
  let bucket: string
  let key: string
  try {
    // The key as sent, every byte: a URL parser would resolve `.` and `..` segments, which are parts of S3 keys.
    bucket = decodeURIComponent(slash < 0 ? path.slice(1) : path.slice(1, slash))
    key = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1))
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", 400)
  }
  const unsupported = [...query.keys()].find(
    name => !PLAIN_PARAMETERS.has(name) && !SUBRESOURCES.has(name) && !/^(x-amz-|response-)/i.test(name)
  )
  if (unsupported !== undefined) throw notImplemented(`the ${unsupported} subresource`)
  const request: Request = { req, res, method, bucket, key, query }
  if (bucket === '') {
    if (method !== 'GET') throw notImplemented(`${method} /`)
    return await listBuckets(store, res)
  }
  if (key === '') return await bucketRequest(store, request)
  return await objectRequest(store, request)
}

async function listBuckets(store: ObjectStore, res: ServerResponse): Promise<void> {
  const buckets = await store.listBuckets()
  sendXml(res, 200, 'ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: buckets.map(b => ({ Name: b.name, CreationDate: new Date(b.createdAt).toISOString() })) }
  })
}

async function bucketRequest(store: ObjectStore, { req, res, method, bucket, query }: Request): Promise<void> {
  if (method === 'PUT' && query.has('versioning')) {
    const status = text(await readXml(req), 'Status')
    if (status !== 'Enabled' && status !== 'Suspended') throw malformedXml()
    await store.setVersioning(bucket, status)
    return sendEmpty(res, 200)
  }
  if (method === 'GET' && query.has('versioning')) {
    const status = await store.versioning(bucket)
    return sendXml(res, 200, 'VersioningConfiguration', { Status: status })
  }
  if (method === 'GET' && query.has('location')) {
    await store.versioning(bucket)
    return sendXml(res, 200, 'LocationConstraint', {})
  }
  if (method === 'GET' && query.has('versions')) return sendXml(res, 200, ...(await listVersions(store, bucket, query)))
  if (method === 'GET' && query.has('uploads')) return sendXml(res, 200, ...(await listUploads(store, bucket, query)))
  if (method === 'GET' && !query.has('tagging')) return sendXml(res, 200, ...(await listObjects(store, bucket, query)))
  if (method === 'HEAD') {
    await store.versioning(bucket)
    res.setHeader('x-amz-bucket-region', 'us-east-1')
    return sendEmpty(res, 200)
  }
  if (method === 'PUT' && [...query.keys()].every(name => PLAIN_PARAMETERS.has(name))) {
    await drainBody(req)
    const created = await store.createBucket(bucket)
    if (!created)
      throw new S3Error(
        'BucketAlreadyOwnedByYou',
        'Your previous request to create the named bucket succeeded and you already own it.',
        409,
        { BucketName: bucket }
      )
    res.setHeader('location', `/${bucket}`)
    return sendEmpty(res, 200)
  }
  if (method === 'DELETE' && [...query.keys()].every(name => PLAIN_PARAMETERS.has(name))) {
    await store.deleteBucket(bucket)
    return sendEmpty(res, 204)
  }
  throw notImplemented(`${method} on a bucket with ${[...query.keys()].join(', ') || 'no parameters'}`)
}

async function objectRequest(store: ObjectStore, request: Request): Promise<void> {
  const { req, res, method, bucket, key, query } = request
  const versionId = versionParameter(query)
  const uploadId = query.get('uploadId') ?? undefined
  if (req.headers['x-amz-copy-source'] !== undefined) throw notImplemented('CopyObject')
  if (query.has('tagging')) return await tagging(store, request, versionId)
  if (method === 'POST' && query.has('uploads')) {
    await drainBody(req)
    const id = await store.uploads.create(bucket, key, attributesOf(req))
    return sendXml(res, 200, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: id })
  }
  if (method === 'PUT' && uploadId !== undefined) {
    const etag = await store.uploads.putPart(bucket, key, uploadId, Number(query.get('partNumber')), requestBody(req))
    res.setHeader('etag', `"${etag}"`)
    return sendEmpty(res, 200)
  }
  if (method === 'POST' && uploadId !== undefined) {
    const parts = elements(await readXml(req), 'Part').map(part => ({
      partNumber: Number(text(part, 'PartNumber')),
      etag: text(part, 'ETag') ?? ''
    }))
    if (parts.some(part => !Number.isInteger(part.partNumber))) throw malformedXml()
    const version = await store.uploads.complete(bucket, key, uploadId, parts)
    await versionHeader(store, res, bucket, version.versionId)
    return sendXml(res, 200, 'CompleteMultipartUploadResult', {
      Location: `/${bucket}/${encodeURIComponent(key)}`,
      Bucket: bucket,
      Key: key,
      ETag: `"${version.etag}"`
    })
  }
  if (method === 'DELETE' && uploadId !== undefined) {
    await store.uploads.abort(bucket, key, uploadId)
    return sendEmpty(res, 204)
  }
  if (method === 'PUT') {
    const md5 = req.headers['content-md5']
    const version = await store.putObject(
      bucket,
      key,
      requestBody(req),
      attributesOf(req),
      typeof md5 === 'string' ? md5 : undefined
    )
    res.setHeader('etag', `"${version.etag}"`)
    await versionHeader(store, res, bucket, version.versionId)
    return sendEmpty(res, 200)
  }
  if (method === 'GET' || method === 'HEAD') return await getObject(store, request, versionId)
  if (method === 'DELETE') {
    const deleted = await store.deleteObject(bucket, key, versionId)
    if (deleted.deleteMarker) res.setHeader('x-amz-delete-marker', 'true')
    if (deleted.versionId !== undefined) res.setHeader('x-amz-version-id', deleted.versionId)
    return sendEmpty(res, 204)
  }
  throw notImplemented(`${method} on an object`)
}

async function getObject(store: ObjectStore, { req, res, method, bucket, key, query }: Request, versionId?: string) {
  const opened = await store.openVersion(bucket, key, versionId)
  const { version } = opened
  /** The file while this function still owns it; the read stream owns it once made. */
  let file: FileHandle | undefined = opened.file
  try {
    const etag = `"${version.etag}"`
    const lastModified = new Date(Math.floor(version.lastModified / 1000) * 1000)
    res.setHeader('etag', etag)
    res.setHeader('last-modified', lastModified.toUTCString())
    res.setHeader('accept-ranges', 'bytes')
    res.setHeader('content-type', version.contentType)
    for (const [name, value] of Object.entries(version.headers)) res.setHeader(name, value)
    for (const [name, value] of Object.entries(version.metadata)) res.setHeader(`x-amz-meta-${name}`, value)
    if (version.tags.length > 0) res.setHeader('x-amz-tagging-count', String(version.tags.length))
    if ((await store.versioning(bucket)) !== undefined) res.setHeader('x-amz-version-id', version.versionId)
    for (const [name, value] of query)
      if (name.startsWith('response-') && value !== '') res.setHeader(name.slice('response-'.length), value)

    const ifMatch = req.headers['if-match']
    const ifNoneMatch = req.headers['if-none-match']
    if (ifMatch !== undefined && !matchesEtag(ifMatch, etag))
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412)
    if (ifNoneMatch !== undefined && matchesEtag(ifNoneMatch, etag)) return sendEmpty(res, 304)

    const range = parseRange(req.headers.range, version.size)
    const [start, end] = range ?? [0, version.size - 1]
    res.setHeader('content-length', String(Math.max(0, end - start + 1)))
    if (range !== undefined) res.setHeader('content-range', `bytes ${start}-${end}/${version.size}`)
    res.statusCode = range === undefined ? 200 : 206
    if (method === 'HEAD' || end < start) {
      res.end()
      return
    }
    // pipeline ends the read when the client goes away, and the stream closes the file.
    const stream = file.createReadStream({ start, end, autoClose: true })
    file = undefined
    await pipeline(stream, res)
  } finally {
    await file?.close().catch(() => undefined)
  }
}

async function tagging(store: ObjectStore, { req, res, method, bucket, key }: Request, versionId?: string) {
  if (method === 'GET') {
    const version = await store.getVersion(bucket, key, versionId)
    if ((await store.versioning(bucket)) !== undefined) res.setHeader('x-amz-version-id', version.versionId)
    return sendXml(res, 200, 'Tagging', {
      TagSet: { Tag: version.tags.map(([Key, Value]) => ({ Key, Value })) }
    })
  }
  if (method === 'PUT' || method === 'DELETE') {
    const tags: Array<[string, string]> =
      method === 'PUT'
        ? elements(await readXml(req), 'Tag').map(tag => [text(tag, 'Key') ?? '', text(tag, 'Value') ?? ''])
        : []
    const id = await store.setTags(bucket, key, versionId, tags)
    if ((await store.versioning(bucket)) !== undefined) res.setHeader('x-amz-version-id', id)
    return sendEmpty(res, method === 'PUT' ? 200 : 204)
  }
  throw notImplemented(`${method} ?tagging`)
}

/** What PutObject and CreateMultipartUpload store besides the bytes. */
function attributesOf(req: IncomingMessage): ObjectAttributes {
  const metadata: Record<string, string> = {}
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value !== 'string') continue
    if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = value
    else if (STORED_HEADERS.includes(name)) headers[name] = value
  }
  const encoding = String(req.headers['content-encoding'] ?? '')
    .split(',')
    .map(e => e.trim())
    .filter(e => e !== '' && e !== 'aws-chunked')
  if (encoding.length > 0) headers['content-encoding'] = encoding.join(', ')
  const tagging = req.headers['x-amz-tagging']
  return {
    contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
    metadata,
    headers,
    tags: typeof tagging === 'string' && tagging !== '' ? [...new URLSearchParams(tagging)] : []
  }
}

function versionParameter(query: URLSearchParams): string | undefined {
  const versionId = query.get('versionId')
  if (versionId === null) return undefined
  if (versionId === '') throw invalidArgument('Version id cannot be the empty string', 'versionId', versionId)
  return versionId
}

async function versionHeader(store: ObjectStore, res: ServerResponse, bucket: string, versionId: string) {
  if ((await store.versioning(bucket)) !== undefined) res.setHeader('x-amz-version-id', versionId)
}

function matchesEtag(header: string, etag: string): boolean {
  return header
    .split(',')
    .map(tag => tag.trim())
    .some(tag => tag === '*' || tag === etag || `"${tag}"` === etag)
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`: the inclusive range; undefined for none (or several: S3 ignores those). */
function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '')
  if (match === null || (match[1] === '' && match[2] === '')) return undefined
  let start: number
  let end: number
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]))
    end = size - 1
  } else {
    start = Number(match[1])
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)
  }
  if (start >= size || start > end)
    throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, {
      RangeRequested: header ?? '',
      ActualObjectSize: String(size)
    })
  return [start, end]
}

function preflight(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('access-control-allow-methods', 'GET, PUT, POST, DELETE, HEAD')
  const asked = req.headers['access-control-request-headers']
  if (asked !== undefined) res.setHeader('access-control-allow-headers', asked)
  res.setHeader('access-control-max-age', '3000')
  sendEmpty(res, 200)
}

async function readXml(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of requestBody(req)) {
    size += chunk.length
    if (size > MAX_XML_BYTES) throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.', 400)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function drainBody(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // CreateBucket's location document and the like: nothing in them changes what the embedded S3 does.
  }
}

function sendXml(res: ServerResponse, status: number, root: string, body: XmlBody): void {
  const document = Buffer.from(xmlDocument(root, body))
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': document.length })
  res.end(document)
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.statusCode = status
  if (!res.hasHeader('content-length')) res.setHeader('content-length', '0')
  res.end()
}

function sendError(req: IncomingMessage, res: ServerResponse, thrown: unknown): void {
  if (res.headersSent || (req.destroyed && !(thrown instanceof S3Error))) {
    // Mid-answer, or the client went away: nothing more can be said on this connection.
    res.destroy()
    return
  }
  let err: S3Error
  if (thrown instanceof S3Error) err = thrown
  else {
    const message = (thrown as Error).message
    console.error(`embedded S3 failed ${req.method} ${req.url?.split('?')[0]}: ${message}`)
    err = new S3Error('InternalError', `The embedded S3 failed this request: ${message}`, 500)
  }
  for (const name of res.getHeaderNames())
    if (!['x-amz-request-id', 'access-control-allow-origin', 'access-control-expose-headers', 'vary'].includes(name))
      res.removeHeader(name)
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value)
  if (req.method === 'HEAD') {
    res.statusCode = err.status
    res.end()
    return
  }
  sendXml(res, err.status, 'Error', {
    Code: err.code,
    Message: err.message,
    ...err.detail,
    RequestId: String(res.getHeader('x-amz-request-id'))
  })
}
