/**
 * Every documented route, sent bad and boundary input generated from its own
 * schemas (the OpenAPI document the app builds from them, so a route added
 * later is fuzzed without touching this file): never a 5xx, a 4xx in the
 * documented shape, and a 4xx stores nothing.
 *
 * Per operation: a few valid requests (whose first success becomes the
 * baseline and whose answers hand out cursors), then every place of the
 * baseline (each parameter, each field of the body, an unknown field) spoiled
 * with every hostile value of its type, then random requests spoiling up to
 * three places. Deterministic: FUZZ_SEED picks the run and is printed with
 * every failure.
 *
 * Besides, per operation, what the schemas promise beyond their types: every
 * UUID place sent in upper case answers as the lower-case id does; a number
 * JSON cannot carry exactly (written as raw JSON) is 400 INVALID_NUMBER; a
 * number sent as text in anything but decimal digits is 400; a body with a
 * Content-Encoding is 415; and every 4xx code is one the README lists.
 */
import { createHash } from 'node:crypto'
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { buckets, tables } from '../src/core/tables.ts'
import {
  buildTestApp,
  datasetBody,
  documentedErrorCodes,
  precompiledSchemaCompilers,
  prng,
  type TestApp
} from './helper.ts'

type Schema = Record<string, unknown> & {
  type?: string
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  anyOf?: Schema[]
  oneOf?: Schema[]
  enum?: unknown[]
}
interface Parameter {
  in: 'path' | 'query' | 'header'
  name: string
  required?: boolean
  schema: Schema
}
interface Operation {
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema }> }
}

const SEED = Number(process.env.FUZZ_SEED ?? 20261124)
const WARMUP = 6
const RANDOM_CASES = 12

/** Values no schema of ours should let through to storage unchecked, by the type they stand in for. */
const HOSTILE: Record<'string' | 'number' | 'other', readonly unknown[]> = {
  string: [
    '',
    ' ',
    '\ud83d',
    'a\udc00b',
    '\u0000',
    '../../etc/passwd',
    '..',
    '%2e%2e%2f',
    '#',
    'a#b',
    'e\u0301',
    '日本語',
    '😀'.repeat(300),
    'x'.repeat(5000),
    '<script>',
    '1e308',
    'W/"1"'
  ],
  number: [-1, 1.5, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e-320, 1e15 - 1, 1e15, 1e16],
  other: [
    true,
    null,
    [],
    [1, 'a'],
    {},
    JSON.parse('{"__proto__":{"polluted":true}}'),
    JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40))
  ]
}

/**
 * A number written into the body's JSON text as is (JSON.stringify cannot write
 * 1e309), or into a path or query string as this text.
 */
const RAW = '__raw_json__'
const raw = (text: string): string => `${RAW}${text}`
const rawText = (value: string): string => (value.startsWith(RAW) ? value.slice(RAW.length) : value)
/** Numbers no body may carry (the only raw ones sent): not finite, or an integer a double does not hold exactly. */
const UNCARRIABLE = [raw('1e309'), raw('-1e400'), raw('12345678901234567890123'), raw('9007199254740993')]
/** Numbers sent as text that are no decimal digits (ajv's coercion would read most of them). */
const NOT_DECIMAL = ['0x10', '0X1', '0b1', '0o7', '1e1', '+1', ' 1', '1 ', '1.0', '1_0', 'Infinity', '1e309']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

type Path = Array<string | number>
/** A place of a request that a case may spoil: `['params', name]` or `['body', ...keys]`. */
interface Place {
  path: Path
  schema: Schema
  name: string
}
interface Request {
  params: Record<string, unknown>
  body: unknown
}

class Generator {
  /** Cursors handed out per route: forged variants of real ones reach further than random bytes. */
  private readonly cursors = new Map<string, string[]>()

  constructor(
    readonly random: () => number,
    readonly known: Record<string, unknown>
  ) {}

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]!
  }

  /** A value the schema accepts, as far as a simple generator can tell; every place in it goes to `places`. */
  valid(schema: Schema, name: string, path: Path, places: Place[], route: string): unknown {
    places.push({ path, schema, name })
    if (name in this.known && this.random() < 0.8) return this.known[name]
    if ('const' in schema) return schema.const
    if (schema.enum) return this.pick(schema.enum)
    const union = schema.anyOf ?? schema.oneOf
    if (union) {
      places.pop()
      return this.valid(this.pick(union), name, path, places, route)
    }
    if ('default' in schema && this.random() < 0.3) return schema.default
    switch (schema.type) {
      case 'integer':
      case 'number': {
        const min = (schema.minimum as number | undefined) ?? 0
        const max = Math.min((schema.maximum as number | undefined) ?? min + 1000, min + 1_000_000)
        return this.pick([min, max, min + Math.floor(this.random() * (max - min + 1))])
      }
      case 'boolean':
        return this.random() < 0.5
      case 'array': {
        const count = Math.max((schema.minItems as number | undefined) ?? 0, this.random() < 0.5 ? 1 : 2)
        return Array.from({ length: Math.min(count, (schema.maxItems as number | undefined) ?? count) }, (_, i) =>
          this.valid(schema.items ?? {}, '', [...path, i], places, route)
        )
      }
      case 'object': {
        const out: Record<string, unknown> = {}
        for (const [key, property] of Object.entries(schema.properties ?? {})) {
          if (schema.required?.includes(key) || this.random() < 0.5)
            out[key] = this.valid(property, key, [...path, key], places, route)
        }
        places.push({ path: [...path, 'unexpected'], schema: {}, name: 'unexpected' })
        return out
      }
      case 'string': {
        const cursors = this.cursors.get(route) ?? []
        return name === 'cursor' && cursors.length > 0 ? this.pick(cursors) : this.string(schema, name)
      }
      default:
        return { free: 'form' }
    }
  }

  private string(schema: Schema, name: string): string {
    if (schema.format === 'uuid')
      return this.pick(['00000000-0000-4000-8000-000000000000', '9b2f8c0e-3d4a-4b6c-9f1e-2a7d5c8b1e30'])
    if (schema.format === 'date-time')
      return new Date(Date.UTC(2026, 0, 1 + Math.floor(this.random() * 300))).toISOString()
    const pattern = typeof schema.pattern === 'string' ? new RegExp(schema.pattern, 'u') : undefined
    const candidates = [
      'fuzz',
      `${name || 'v'}-1`,
      'fuzz@example.com',
      'application/zip',
      'image/png',
      'text/plain',
      'c2FsdHNhbHQ=',
      'AAECAwQFBgcICQoL',
      'A'.repeat((schema.maxLength as number | undefined) ?? 64),
      'ümlaut ✓',
      '"1"',
      '*'
    ]
    const fits = candidates.filter(
      c =>
        (pattern === undefined || pattern.test(c)) &&
        c.length >= ((schema.minLength as number | undefined) ?? 0) &&
        c.length <= ((schema.maxLength as number | undefined) ?? Infinity)
    )
    return fits.length > 0 ? this.pick(fits) : 'fuzz'
  }

  /** Every bad value worth sending to a place: those of its type, a few of others, and for cursors, forgeries of real ones. */
  hostileFor(place: Place, route: string): unknown[] {
    const type =
      place.schema.type === 'integer' || place.schema.type === 'number'
        ? 'number'
        : place.schema.type === 'string'
          ? 'string'
          : 'other'
    const others = (['string', 'number', 'other'] as const).filter(k => k !== type).map(k => this.pick(HOSTILE[k]))
    const forged =
      place.name === 'cursor' ? (this.cursors.get(route) ?? []).flatMap(cursor => this.forgeries(cursor)) : []
    const inText = place.path[0] === 'params'
    const numbers = type === 'number' ? (inText ? NOT_DECIMAL : UNCARRIABLE) : []
    // Free-form places (data, an unexpected field) get the numbers no body may carry too, alone and nested.
    const freeForm = type === 'other' && !inText ? [raw('1e309'), { nested: [raw('12345678901234567890123')] }] : []
    return [...HOSTILE[type], ...others, ...forged, ...numbers, ...freeForm]
  }

  /** A real cursor with one attribute given another type, an empty, hostile or foreign value, or a second attribute. */
  forgeries(cursor: string): string[] {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
    return [
      ...Object.keys(key).flatMap(name =>
        [1, 1e308, -1, '', '\ud83d', 'x', { S: 'x' }, null].map(value => encode({ ...key, [name]: value }))
      ),
      encode({ ...key, extra: 'x' })
    ]
  }

  harvest(route: string, body: string): void {
    const cursor = /"cursor":"([A-Za-z0-9_-]+)"/.exec(body)?.[1]
    if (cursor === undefined) return
    const list = this.cursors.get(route) ?? []
    if (!list.includes(cursor) && list.length < 3) this.cursors.set(route, [...list, cursor])
  }
}

function setAt(request: Request, [part, ...path]: Path, value: unknown): Request {
  const copy = structuredClone(request)
  if (part === 'params') {
    copy.params[path[0] as string] = value
    return copy
  }
  if (path.length === 0) return { ...copy, body: value }
  let node = copy.body as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) node = node?.[key] as Record<string | number, unknown>
  // An earlier spoil replaced a parent of this place: nothing left to spoil.
  if (typeof node !== 'object' || node === null) return copy
  node[path.at(-1)!] = value
  return copy
}

/** A digest of every item of every table and every object of every bucket the app uses. */
async function storageFingerprint({ clients, config }: TestApp): Promise<string> {
  const scan = async (table: string): Promise<string> => {
    const items: string[] = []
    let startKey: Record<string, unknown> | undefined
    do {
      const page = await clients.dynamodb.send(
        new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey as never })
      )
      for (const item of page.Items ?? []) items.push(JSON.stringify(item, Object.keys(item).sort()))
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined)
    return items.sort().join('\n')
  }
  const list = async (bucket: string): Promise<string> => {
    const { Contents } = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }))
    return (Contents ?? [])
      .map(o => `${o.Key}@${o.ETag}`)
      .sort()
      .join('\n')
  }
  const parts = await Promise.all([
    ...Object.keys(tables).map(key => scan(config.tables[key as keyof typeof tables])),
    ...Object.keys(buckets).map(key => list(config.buckets[key as keyof typeof buckets]))
  ])
  return createHash('sha256').update(parts.join('\n--\n')).digest('hex')
}

// Longer than the suite's per-file limit: it sends about two thousand requests, each followed by a look at all of storage.
t.setTimeout(600_000)

const everything = generateApiKey('fuzz', ['*'])

t.test(`fuzzing every documented route (FUZZ_SEED=${SEED})`, async t => {
  const test = await buildTestApp(t, {
    // Through the validators and serializers the Lambda bundle ships (generated as `npm run build` does).
    schemaCompilers: await precompiledSchemaCompilers(),
    env: {
      API_KEYS: JSON.stringify([everything.entry]),
      RATE_LIMIT_MAX: '1000000',
      ASSETS_MULTIPART_BYTES: String(5 * 1024 * 1024)
    },
    repositories: { data: { inlinePayloadBytes: 1024 } },
    // A sync run works after its request: left to run, it would change storage under the next request's check.
    sync: { launcher: () => ({ launch: async () => {}, close: async () => {} }) }
  })
  const { app } = test
  /** JSON text of a body, with every raw number written as its text. */
  const jsonOf = (payload: unknown): string =>
    (JSON.stringify(payload) ?? '').replace(new RegExp(`"${RAW}([^"]*)"`, 'g'), (_, text: string) => text)
  const send = (method: string, url: string, payload?: unknown, extra: Record<string, string> = {}) =>
    app.inject({
      method: method as 'GET',
      url,
      headers: {
        'x-api-key': everything.key,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...extra
      },
      ...(payload === undefined ? {} : { payload: jsonOf(payload) })
    })
  const documented = documentedErrorCodes()

  // Three of each listed thing, so pages of one hand out cursors to forge.
  const dataset = (await send('POST', '/data', datasetBody())).json()
  const users = []
  const assets = []
  for (const n of [1, 2, 3]) {
    users.push(
      (await send('POST', '/users', { email: `known${n}@example.com`, name: 'Known', department: 'fuzz' })).json()
    )
    assets.push(
      (
        await send('POST', '/assets', {
          fileName: 'big.zip',
          contentType: 'application/zip',
          size: n * 6 * 1024 * 1024
        })
      ).json()
    )
    await send('POST', `/projects/known${n}/changes`, {
      entityType: 'doc',
      entityId: 'd1',
      operation: 'create',
      data: { a: n },
      changeId: `c${n}`
    })
  }
  const random = prng(SEED)
  const gen = new Generator(random, {
    keyId: dataset.keyId,
    userId: users[0].userId,
    assetId: assets[0].assetId,
    projectId: 'known1',
    entityType: 'doc',
    entityId: 'd1',
    seq: 1,
    version: 1
  })
  const doc = app.swagger() as { paths: Record<string, Record<string, Operation>> }
  let stored = await storageFingerprint(test)
  let sent = 0

  for (const [route, operations] of Object.entries(doc.paths)) {
    for (const [verb, operation] of Object.entries(operations)) {
      const method = verb.toUpperCase()
      const parameters = operation.parameters ?? []
      const bodySchema = operation.requestBody?.content['application/json']?.schema

      const generate = (): { request: Request; places: Place[] } => {
        const places: Place[] = []
        const params = Object.fromEntries(
          parameters.map(p => {
            const value = gen.valid(p.schema, p.name, ['params', p.name], places, route)
            return [p.name, p.required !== true && random() < 0.5 ? undefined : value]
          })
        )
        const body = bodySchema === undefined ? undefined : gen.valid(bodySchema, '', ['body'], places, route)
        return { request: { params, body }, places }
      }

      /** `strict`: one place spoiled, the rest the baseline's, so what that place must get is known. */
      const run = async (
        request: Request,
        note: string,
        { strict = false, extra = {} }: { strict?: boolean; extra?: Record<string, string> } = {}
      ): Promise<number> => {
        let url = route
        const query = new URLSearchParams()
        const headers: Record<string, string> = { ...extra }
        /** What this request must be answered, whatever else is wrong with it, if anything. */
        let expected: { status: number; code?: string } | undefined
        if (strict && JSON.stringify(request.body)?.includes(`"${RAW}`))
          expected = { status: 400, code: 'INVALID_NUMBER' }
        for (const parameter of parameters) {
          let value = request.params[parameter.name]
          if (value === undefined) continue
          // A valid long poll would only wait; its bad values are still sent.
          if (parameter.name === 'wait' && typeof value === 'number' && value > 0 && value <= 20) value = 0
          const numeric = parameter.schema.type === 'integer' || parameter.schema.type === 'number'
          if (strict && numeric && typeof value === 'string' && NOT_DECIMAL.includes(value))
            expected ??= { status: 400, code: 'VALIDATION_FAILED' }
          const text = rawText(typeof value === 'string' ? value : (JSON.stringify(value) ?? '')).toWellFormed()
          if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(text))
          else if (parameter.in === 'query') query.set(parameter.name, text)
          else if (/^[\t\x20-\x7e]*$/.test(text)) headers[parameter.name] = text
        }
        if (query.size > 0) url += `?${query}`
        const label = `FUZZ_SEED=${SEED} ${note}: ${method} ${url.slice(0, 200)} ${JSON.stringify(request.body)?.slice(0, 200) ?? ''}`
        if (strict && headers['content-encoding'] !== undefined)
          expected ??= { status: 415, code: 'UNSUPPORTED_CONTENT_ENCODING' }
        const res = await send(method, url, request.body, headers)
        sent++
        if (expected !== undefined && (res.statusCode !== expected.status || res.json().code !== expected.code))
          t.fail(`${label} -> ${res.statusCode} ${res.body.slice(0, 200)}, not ${expected.status} ${expected.code}`)
        if (res.statusCode >= 400 && res.statusCode < 500 && !documented.has(res.json().code))
          t.fail(`${label} -> ${res.statusCode} with the code ${res.json().code}, which the README does not list`)
        // What an accepted append sets off after its answer (the projection) is that request's, not the next one's.
        await test.app.projectsRepository.idle()
        const now = await storageFingerprint(test)
        if (res.statusCode >= 500) {
          t.fail(`${label} -> ${res.statusCode} ${res.body.slice(0, 300)}`)
        } else if (res.statusCode >= 400) {
          if (now !== stored) t.fail(`${label} -> ${res.statusCode}, yet storage changed`)
          if (
            !String(res.headers['content-type']).startsWith('application/json') ||
            Object.keys(res.json()).sort().join() !== 'code,error,message,statusCode'
          ) {
            t.fail(`${label} -> ${res.statusCode} not in the error shape: ${res.body.slice(0, 200)}`)
          }
        } else {
          gen.harvest(route, res.body)
        }
        stored = now
        return res.statusCode
      }

      let baseline: { request: Request; places: Place[] } | undefined
      for (let i = 0; i < WARMUP; i++) {
        const candidate = generate()
        const status = await run(candidate.request, `valid ${i}`)
        if (baseline === undefined && status < 400) baseline = candidate
      }
      baseline ??= generate()

      for (const place of baseline.places) {
        for (const value of gen.hostileFor(place, route)) {
          await run(setAt(baseline.request, place.path, value), `${place.path.join('.')} spoiled`, { strict: true })
        }
      }

      // A UUID in upper case is the same id: answered as the lower-case one is, when sent again right after it.
      for (const place of baseline.places.filter(p => p.schema.format === 'uuid')) {
        const value = place.path.reduce<unknown>(
          (node, key) => (node as Record<string | number, unknown> | undefined)?.[key],
          baseline.request
        )
        if (typeof value !== 'string' || !UUID.test(value)) continue
        const where = place.path.join('.')
        await run(baseline.request, `${where} in lower case`)
        const upper = await run(setAt(baseline.request, place.path, value.toUpperCase()), `${where} in upper case`)
        const lower = await run(baseline.request, `${where} in lower case again`)
        if (upper !== lower)
          t.fail(`FUZZ_SEED=${SEED} ${method} ${route}: ${where} in upper case -> ${upper}, lower -> ${lower}`)
      }

      if (bodySchema !== undefined) {
        for (const encoding of ['gzip', 'br', 'x-unknown'])
          await run(baseline.request, `content-encoding ${encoding}`, {
            strict: true,
            extra: { 'content-encoding': encoding }
          })
      }

      // A route that takes no input has nothing to spoil.
      for (let i = 0; i < (baseline.places.length > 0 ? RANDOM_CASES : 0); i++) {
        const { request, places } = generate()
        let spoiled = request
        for (let s = 1 + Math.floor(random() * 3); s > 0; s--) {
          const place = gen.pick(places)
          spoiled = setAt(spoiled, place.path, gen.pick(gen.hostileFor(place, route)))
        }
        await run(spoiled, `random ${i}`)
      }
    }
  }
  t.ok(sent > 1000, `${sent} requests sent`)
})
