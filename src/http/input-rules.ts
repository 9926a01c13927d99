/**
 * What every route's input obeys beyond what JSON Schema can say, applied
 * from the same schemas just before their validator runs (both the
 * validators compiled at start-up and the Lambda bundle's precompiled ones):
 *
 * - A UUID is one id whatever its case: every string a schema declares
 *   `format: 'uuid'` is lower-cased on the way in, so `POST /data` with an
 *   upper-case keyId finds the dataset the lower-case one created.
 * - A number sent as text (a path parameter, a query string) is written in
 *   decimal digits: ajv's coercion reads `0x10` as 16, `1e1` as 10 and
 *   ` 16 ` as 16; those are refused instead.
 */
/** Which ajv a request part is validated with (src/http/validation.ts): bodies as sent, everything else coerced from text. */
export type ValidatorKind = 'body' | 'text'

type Schema = {
  type?: unknown
  format?: unknown
  properties?: Record<string, Schema>
  items?: unknown
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
}

/** What a validator reports: enough of ajv's error for Fastify's message (`querystring/wait must be …`). */
export interface InputError {
  instancePath: string
  schemaPath: string
  keyword: string
  params: Record<string, unknown>
  message: string
}

/** Checks and normalizes one request part in place; returns what is wrong with it, if anything. */
export type InputRule = (data: unknown) => InputError | undefined

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DECIMAL_INTEGER = /^-?[0-9]+$/
const DECIMAL_NUMBER = /^-?[0-9]+(\.[0-9]+)?$/

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A function that lower-cases every UUID the schema places in a value (in place where it can), or none to do. */
function uuidNormalizer(schema: Schema): ((value: unknown) => unknown) | undefined {
  if (schema.format === 'uuid')
    return value => (typeof value === 'string' && UUID.test(value) ? value.toLowerCase() : value)
  const branches = [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]
    .map(uuidNormalizer)
    .filter(fn => fn !== undefined)
  const properties = Object.entries(schema.properties ?? {}).flatMap(([key, property]) => {
    const fn = uuidNormalizer(property)
    return fn === undefined ? [] : [[key, fn] as const]
  })
  const items = isObject(schema.items) ? uuidNormalizer(schema.items) : undefined
  if (branches.length === 0 && properties.length === 0 && items === undefined) return undefined
  return value => {
    if (isObject(value)) {
      for (const [key, fn] of properties) if (Object.hasOwn(value, key)) value[key] = fn(value[key])
    } else if (Array.isArray(value) && items !== undefined) {
      for (let i = 0; i < value.length; i++) value[i] = items(value[i])
    }
    return branches.reduce((current, fn) => fn(current), value)
  }
}

/** The numeric properties of a text part's schema, and the form their text must take. */
function decimalFields(schema: Schema): Array<[string, RegExp, string]> {
  return Object.entries(schema.properties ?? {}).flatMap(([key, property]): Array<[string, RegExp, string]> => {
    if (property.type === 'integer') return [[key, DECIMAL_INTEGER, 'must be an integer in decimal digits']]
    if (property.type === 'number') return [[key, DECIMAL_NUMBER, 'must be a number in decimal digits']]
    return []
  })
}

const refusal = (key: string, message: string): InputError => ({
  instancePath: `/${key}`,
  schemaPath: `#/properties/${key}`,
  keyword: 'decimal',
  params: {},
  message
})

/** The rule for one request part, or undefined when its schema asks for none (most bodies, most query strings). */
export function inputRule(schema: unknown, kind: ValidatorKind): InputRule | undefined {
  if (!isObject(schema)) return undefined
  const normalize = uuidNormalizer(schema as Schema)
  const decimals = kind === 'text' ? decimalFields(schema as Schema) : []
  if (normalize === undefined && decimals.length === 0) return undefined
  return data => {
    if (isObject(data)) {
      for (const [key, form, message] of decimals) {
        const value = data[key]
        // Text parts may repeat a name (`?wait=1&wait=2`): every one is text.
        for (const text of Array.isArray(value) ? value : [value]) {
          if (typeof text === 'string' && !(form.test(text) && Number.isFinite(Number(text))))
            return refusal(key, message)
        }
      }
    }
    normalize?.(data)
    return undefined
  }
}
