import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { InvalidInputError } from '../../core/errors.ts'
import { HttpError } from '../../http/http-error.ts'
import { numberProblem } from '../../http/json-numbers.ts'

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i

/** Deeper JSON than any route needs; DynamoDB refuses items nested past 32 levels. */
export const MAX_BODY_DEPTH = 20

type TextProblem = { kind: 'malformed'; at: string } | { kind: 'too-deep' }

/**
 * The first string in `value` (keys included) that is not well-formed
 * Unicode, as a path like `body.changes[2].data.title`, or nesting deeper than
 * MAX_BODY_DEPTH. Iterative: the walk itself must not overflow the stack.
 */
export function textProblem(value: unknown, root: string): TextProblem | undefined {
  const stack: Array<[unknown, string, number]> = [[value, root, 0]]
  while (stack.length > 0) {
    const [current, path, depth] = stack.pop()!
    if (typeof current === 'string') {
      if (!current.isWellFormed()) return { kind: 'malformed', at: path }
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= MAX_BODY_DEPTH) return { kind: 'too-deep' }
      if (Array.isArray(current)) {
        current.forEach((item, i) => stack.push([item, `${path}[${i}]`, depth + 1]))
      } else {
        for (const [key, item] of Object.entries(current)) {
          if (!key.isWellFormed()) return { kind: 'malformed', at: `${path} (a key)` }
          stack.push([item, `${path}.${key}`, depth + 1])
        }
      }
    }
  }
  return undefined
}

/**
 * What a request may carry as text: JSON bodies in UTF-8 only (any other
 * charset is 415, not bytes misread), nested at most MAX_BODY_DEPTH levels,
 * and well-formed Unicode everywhere. A lone surrogate (`"\ud83d"` in JSON) is
 * valid JSON but no text: stored, it breaks signing, S3 keys and every strict
 * JSON parser that later reads it.
 */
export default fp(
  async app => {
    // JSON in and out: any other body is 415, not a string the schema then rejects.
    app.removeContentTypeParser('text/plain')
    const parseJson = app.getDefaultJsonParser('error', 'error')
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase()
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
        done(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'JSON bodies must be UTF-8'), undefined)
        return
      }
      parseJson(request, body as string, (err, value) => {
        const problem = err === null ? numberProblem(value, body as string) : undefined
        if (problem !== undefined) done(new InvalidInputError('INVALID_NUMBER', problem), undefined)
        else done(err, value)
      })
    })

    // Every request runs it: a callback, so checking text makes no promise.
    app.addHook('preValidation', (request: FastifyRequest, _reply, done) => {
      const problem =
        textProblem(request.params, 'params') ??
        textProblem(request.query, 'querystring') ??
        textProblem(request.body, 'body')
      if (problem?.kind === 'too-deep') {
        done(new InvalidInputError('BODY_TOO_DEEP', `JSON may nest at most ${MAX_BODY_DEPTH} levels deep`))
        return
      }
      if (problem?.kind === 'malformed') {
        const where = problem.at.length > 120 ? `${problem.at.slice(0, 120)}…` : problem.at
        done(
          new InvalidInputError('MALFORMED_UNICODE', `${where} is not well-formed Unicode (it holds a lone surrogate)`)
        )
        return
      }
      done()
    })
  },
  { name: 'request-text' }
)
