import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { InvalidInputError } from '../core/errors.ts'
import { etagOf, ifMatchVersions } from '../http/etag.ts'
import { userNotFound, type StoredUser, type User as UserRecord } from '../repositories/users/index.ts'
import { errorResponses } from '../schemas/common.ts'
import {
  CreateUserBody,
  IfMatchHeaders,
  ListUsersQuery,
  UpdateUserBody,
  User,
  UserIdParams,
  UserPage
} from '../schemas/users.ts'

const etagHeader = { ETag: { type: 'string', description: 'The user\'s version, quoted: "3"' } }
const read = { auth: { scopes: ['users:read'] } }
const write = { auth: { scopes: ['users:write'] } }

/** The public fields only: the version travels in the ETag. */
const publicUser = ({ version: _version, ...user }: StoredUser): UserRecord => user

/** /users (docs/users.md): users:read to read, users:write to change. */
const usersRoutes: FastifyPluginAsyncTypebox = async app => {
  const repo = app.usersRepository

  app.post(
    '/users',
    {
      config: write,
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        description:
          'The email must not belong to another live user (compared trimmed and case-insensitively): 409 otherwise. Times are epoch milliseconds.',
        body: CreateUserBody,
        response: {
          201: { ...User, headers: { Location: { type: 'string' }, ...etagHeader } },
          ...errorResponses(400, 409, 415)
        }
      }
    },
    async (request, reply) => {
      const created = await repo.create(request.body)
      return await reply
        .code(201)
        .header('location', `/users/${created.userId}`)
        .header('etag', etagOf(created.version))
        .send(publicUser(created))
    }
  )

  app.get(
    '/users',
    {
      config: read,
      schema: {
        tags: ['users'],
        summary: 'List users by creation time, or look one up by email',
        description:
          'With `email`: the live user with that email, as a list of zero or one. Otherwise live users in creation order ' +
          '(`order=asc`, oldest first, or `desc`), optionally of one `department`, a page of `limit` at a time; pass the returned `cursor` for the next page.',
        querystring: ListUsersQuery,
        response: { 200: UserPage, ...errorResponses(400) }
      }
    },
    async request => {
      const { email, department, order, limit, cursor } = request.query
      if (email !== undefined) {
        if (department !== undefined || cursor !== undefined) {
          throw new InvalidInputError(
            'INVALID_QUERY',
            'email looks up one user: it does not combine with department or cursor'
          )
        }
        const user = await repo.findByEmail(email)
        return { users: user === undefined ? [] : [publicUser(user)], cursor: null }
      }
      const page = await repo.list({ limit, order, department, cursor })
      return { users: page.users.map(publicUser), cursor: page.cursor }
    }
  )

  app.get(
    '/users/:userId',
    {
      // HEAD answers with the status and headers (the ETag) alone.
      exposeHeadRoute: true,
      config: read,
      schema: {
        tags: ['users'],
        summary: 'Read a user',
        params: UserIdParams,
        response: { 200: { ...User, headers: etagHeader }, ...errorResponses(400, 404) }
      }
    },
    async (request, reply) => {
      const { userId } = request.params
      const user = await repo.get(userId)
      if (user === undefined) throw userNotFound(userId)
      reply.header('etag', etagOf(user.version))
      return publicUser(user)
    }
  )

  app.patch(
    '/users/:userId',
    {
      config: write,
      schema: {
        tags: ['users'],
        summary: 'Change a user',
        description:
          'Any of email, name, department, expiresAt; null clears department or expiresAt. With If-Match the change lands only ' +
          'if it names the current version; otherwise 412 and nothing is written. A new email must not belong to another live user (409).',
        params: UserIdParams,
        headers: IfMatchHeaders,
        body: UpdateUserBody,
        response: { 200: { ...User, headers: etagHeader }, ...errorResponses(400, 404, 409, 412, 415) }
      }
    },
    async (request, reply) => {
      const updated = await repo.update(
        request.params.userId,
        request.body,
        ifMatchVersions(request.headers['if-match'])
      )
      reply.header('etag', etagOf(updated.version))
      return publicUser(updated)
    }
  )

  app.delete(
    '/users/:userId',
    {
      config: write,
      schema: {
        tags: ['users'],
        summary: 'Delete a user',
        description: 'Its email can be used again at once.',
        params: UserIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 404) }
      }
    },
    async (request, reply) => {
      await repo.delete(request.params.userId)
      return await reply.code(204).send(null)
    }
  )
}

export default usersRoutes
