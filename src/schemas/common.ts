import { Type, type TSchema } from '@sinclair/typebox'

/** The four fields of every error answer; an error with details adds its own beside them. */
export const errorProperties = {
  statusCode: Type.Integer({ examples: [404] }),
  error: Type.String({ description: 'HTTP reason phrase', examples: ['Not Found'] }),
  message: Type.String({ description: 'What went wrong, for a person', examples: ['Dataset 0b4c… not found'] }),
  code: Type.String({ description: 'Stable machine-readable code', examples: ['DATASET_NOT_FOUND'] })
}

export const ErrorResponse = Type.Object(errorProperties, { title: 'Error', additionalProperties: false })

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: the message names the field. Nothing was stored.',
  401: 'Missing or invalid credentials',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflicts with the current state',
  412: 'If-Match does not name the current version. Nothing was written.',
  413: 'Body or payload too large',
  415: 'Unsupported Content-Type',
  429: 'Too many requests; see Retry-After',
  500: 'Unexpected server error',
  503: 'A dependency is unavailable or throttling; retry after Retry-After seconds'
}

// One schema object per status, shared by every route: start-up then looks each one's serializer up once.
const errorSchemas = new Map<number, TSchema>()

function errorSchema(status: number): TSchema {
  let schema = errorSchemas.get(status)
  if (schema === undefined) {
    schema = Type.Object(errorProperties, {
      title: 'Error',
      additionalProperties: false,
      description: ERROR_DESCRIPTIONS[status]
    })
    errorSchemas.set(status, schema)
  }
  return schema
}

// Routes ask for the same few sets; each is made once (start-up runs this for every route, and its auth rule).
const errorSets = new Map<string, Readonly<Record<number, TSchema>>>()

/** Response schemas for the error statuses a route can answer, plus the 429, 500 and 503 every route can. */
export function errorResponses(...statuses: number[]): Readonly<Record<number, TSchema>> {
  const key = statuses.join()
  let set = errorSets.get(key)
  if (set === undefined) {
    const all = [...new Set([...statuses, 429, 500, 503])]
    set = Object.freeze(Object.fromEntries(all.map(status => [status, errorSchema(status)])))
    errorSets.set(key, set)
  }
  return set
}
