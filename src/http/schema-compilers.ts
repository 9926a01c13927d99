/**
 * How route schemas become validators and serializers. The app compiles them
 * when it starts (src/http/validation.ts); the Lambda bundle instead looks them up
 * in code the build generated from the same schemas (scripts/precompile-schemas.ts),
 * so a cold start compiles nothing. The lookup is by content: a schema that
 * differs from the one the build saw finds nothing, and the app refuses to
 * start rather than validate with stale code.
 */
import { hash } from 'node:crypto'
import type { FastifySchemaCompiler, FastifySerializerCompiler, FastifyServerOptions } from 'fastify'
import { inputRule, type InputError, type ValidatorKind } from './input-rules.ts'

export const validatorKind = (httpPart: string | undefined): ValidatorKind => (httpPart === 'body' ? 'body' : 'text')

/** Fastify's `schemaController.compilersFactory`, as Fastify calls it (its typings describe @fastify/ajv-compiler's). */
export interface SchemaCompilers {
  buildValidator: () => FastifySchemaCompiler<unknown>
  /** Without one, Fastify's own fast-json-stringify compiler. */
  buildSerializer?: () => FastifySerializerCompiler<unknown>
}

/** The `schemaController` server option that makes Fastify use these compilers. */
export const schemaController = (compilers: SchemaCompilers): FastifyServerOptions['schemaController'] => ({
  compilersFactory: compilers as unknown as NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
})

type Validate = ReturnType<FastifySchemaCompiler<unknown>>
type Serialize = ReturnType<FastifySerializerCompiler<unknown>>

/** Per schema key, a function that makes its code. */
export interface PrecompiledSchemas {
  validators: Record<ValidatorKind, Record<string, () => Validate>>
  serializers: Record<string, () => Serialize>
}

/**
 * What the build generates (src/precompiled/schemas.cjs): the tables, given a
 * reader of the code file beside it (schema-code.txt) that returns the text
 * between two byte offsets; a schema's code is read on its first use.
 */
export type PrecompiledModule = (readCode: (start: number, end: number) => string) => PrecompiledSchemas

const keys = new WeakMap<object, string>()

/** A schema's identity for the lookup: a hash of all of it, so any change to it is a different key. */
export function schemaKey(schema: unknown): string {
  const memo = typeof schema === 'object' && schema !== null ? keys.get(schema) : undefined
  if (memo !== undefined) return memo
  // The one-shot hash: some three hundred schemas at start-up, each a hash object fewer.
  const key = hash('sha256', JSON.stringify(schema), 'base64url')
  if (typeof schema === 'object' && schema !== null) keys.set(schema, key)
  return key
}

export class StaleSchemasError extends Error {
  constructor(what: string) {
    super(`${what} has no precompiled code: its schema changed after the build. Run \`npm run build\`.`)
    this.name = 'StaleSchemasError'
  }
}

/** What Fastify passes a validator so that ajv may replace the root value it coerces (request[httpPart]). */
type ValidateContext = { parentData: object; parentDataProperty: string }

/**
 * A validator that evaluates its generated code on its first call, so start-up
 * only looks schemas up. `schemaEnv` is what tells Fastify (as with ajv's own
 * functions) to pass the request as parent data; `errors` reads ajv's, so a
 * call costs nothing over the generated function's own.
 */
function lazyValidator(make: () => Validate): Validate {
  let validate: ((data: unknown, context?: ValidateContext) => boolean) | undefined
  const lazy = (data: unknown, context?: ValidateContext) =>
    (validate ??= make() as typeof validate & object)(data, context)
  Object.defineProperties(lazy, {
    schemaEnv: { value: true },
    errors: { get: () => (validate as { errors?: unknown } | undefined)?.errors }
  })
  return lazy as unknown as Validate
}

/**
 * `validate`, preceded by the rules no schema can say (src/http/input-rules.ts:
 * UUIDs lower-cased, numbers in text decimal). Both compilers wrap theirs,
 * so the app and the Lambda bundle judge input the same.
 */
export function withInputRules(schema: unknown, httpPart: string | undefined, validate: Validate): Validate {
  const rule = inputRule(schema, validatorKind(httpPart))
  if (rule === undefined) return validate
  const inner = validate as unknown as ((data: unknown, context?: ValidateContext) => boolean) & { errors?: unknown }
  let refused: InputError[] | undefined
  const checked = (data: unknown, context?: ValidateContext) => {
    const problem = rule(data)
    refused = problem === undefined ? undefined : [problem]
    return problem === undefined && inner(data, context)
  }
  Object.defineProperties(checked, {
    schemaEnv: { value: (validate as { schemaEnv?: unknown }).schemaEnv },
    errors: { get: () => refused ?? inner.errors }
  })
  return checked as unknown as Validate
}

function lazySerializer(make: () => Serialize): Serialize {
  let serialize: Serialize | undefined
  return data => (serialize ??= make())(data)
}

/** Compilers for `schemaController.compilersFactory` that only look up what the build generated. */
export function precompiledCompilers(precompiled: PrecompiledSchemas): SchemaCompilers {
  const validator: FastifySchemaCompiler<unknown> = ({ schema, method, url, httpPart }) => {
    const make = precompiled.validators[validatorKind(httpPart)][schemaKey(schema)]
    if (make === undefined) throw new StaleSchemasError(`The ${httpPart} validator of ${method} ${url}`)
    return withInputRules(schema, httpPart, lazyValidator(make))
  }
  const serializer: FastifySerializerCompiler<unknown> = ({ schema, method, url, httpStatus }) => {
    const make = precompiled.serializers[schemaKey(schema)]
    if (make === undefined) throw new StaleSchemasError(`The ${httpStatus} serializer of ${method} ${url}`)
    return lazySerializer(make)
  }
  return { buildValidator: () => validator, buildSerializer: () => serializer }
}
