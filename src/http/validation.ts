import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import type { ValidatorKind } from './input-rules.ts'
import { validatorKind, withInputRules, type SchemaCompilers } from './schema-compilers.ts'

// ajv-formats is CommonJS; its typings place the plugin on `default`, which it also sets at run time.
const addFormats = addFormatsModule.default

const common: Options = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false }

/**
 * Bodies are validated as sent: a "250000" string is not an integer and an
 * unknown field is an error, so nothing half-understood is stored. Params,
 * query strings and headers arrive as text, so they are coerced. The build
 * (scripts/precompile-schemas.ts) generates its validators with these same
 * instances' options, plus `code` to emit their source.
 */
export function createAjv(kind: ValidatorKind, extra: Options = {}): Ajv {
  return addFormats(new Ajv({ ...common, coerceTypes: kind === 'body' ? false : 'array', ...extra }))
}

const ajvs = { body: createAjv('body'), text: createAjv('text') }

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  withInputRules(schema, httpPart, ajvs[validatorKind(httpPart)].compile(schema as object))

/** Schemas compiled when the app starts: these validators, and Fastify's own fast-json-stringify serializers. */
export const runtimeCompilers: SchemaCompilers = { buildValidator: () => validatorCompiler }
