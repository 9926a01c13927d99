import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { projectScope } from '../auth/scopes.ts'
import { LAMBDA_BODY_BYTES } from '../core/limits.ts'
import { decodeCursor, encodeCursor } from '../http/pagination.ts'
import { changeNotFound, entityNotFound, projectNotFound } from '../repositories/projects/index.ts'
import { errorResponses } from '../schemas/common.ts'
import {
  AppendBody,
  AppendResponse,
  PROJECT_ID_PATTERN,
  ChangeParams,
  Entity,
  EntityParams,
  FeedPage,
  FeedQuery,
  ListQuery,
  ProjectList,
  ProjectParams,
  ProjectStats,
  ProjectionHeaders,
  Change
} from '../schemas/projects.ts'

const scopeOf = (action: 'read' | 'write') => (request: FastifyRequest) =>
  projectScope((request.params as { projectId: string }).projectId, action)
const read = { auth: { scopes: scopeOf('read') } }
const write = { auth: { scopes: scopeOf('write') } }

const projectsRoutes: FastifyPluginAsyncTypebox = async app => {
  const repo = app.projectsRepository

  app.post(
    '/projects/:projectId/changes',
    {
      // A batch of large changes has to be split by the client.
      bodyLimit: LAMBDA_BODY_BYTES,
      config: write,
      schema: {
        tags: ['projects'],
        summary: 'Append one change or a batch of changes',
        description:
          'The changes get consecutive seqs and become visible together, after every smaller seq; the answer comes once they are durable, and entities, outdatedBy and stats follow. With changeIds, a change whose changeId landed before is not appended again and answers with its first seq (duplicate: true), however the retry regroups the changes.',
        params: ProjectParams,
        body: AppendBody,
        response: { 201: AppendResponse, ...errorResponses(400, 409, 413, 415) }
      }
    },
    async (request, reply) => {
      const body = request.body
      const changes = 'changes' in body ? body.changes : [body]
      const appended = await repo.append(request.params.projectId, changes)
      return await reply.code(201).send({ changes: appended })
    }
  )

  app.get(
    '/projects/:projectId/changes',
    {
      config: read,
      schema: {
        tags: ['projects'],
        summary: 'Read the feed after a seq, in order',
        description:
          'Poll with since=lastSeq to see every change exactly once, in seq order. With wait, the request is held until a change after since exists (long poll).',
        params: ProjectParams,
        querystring: FeedQuery,
        response: { 200: FeedPage, ...errorResponses(400) }
      }
    },
    async (request, reply) => {
      const { since, limit, entityType, includeOutdated, wait } = request.query
      const options = { since, limit, entityType, includeOutdated }
      if (wait === 0) return await repo.read(request.params.projectId, options)
      const gone = new AbortController()
      // The response closes when the answer is sent or the client goes away: stop polling then.
      reply.raw.once('close', () => gone.abort())
      return await repo.readOrWait(request.params.projectId, options, wait * 1000, gone.signal)
    }
  )

  app.get(
    '/projects/:projectId/changes/:seq',
    {
      config: read,
      schema: {
        tags: ['projects'],
        summary: 'Read one change',
        params: ChangeParams,
        response: { 200: Change, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const { projectId, seq } = request.params
      const change = await repo.change(projectId, seq)
      if (change === undefined) throw changeNotFound(projectId, seq)
      return change
    }
  )

  app.get(
    '/projects/:projectId/entities/:entityType/:entityId',
    {
      config: read,
      schema: {
        tags: ['projects'],
        summary: "An entity's current state: its latest change",
        description:
          'The projection is caught up first when it is behind, for up to 2 s. X-Projected-Seq below X-Latest-Seq (on a 404 ENTITY_NOT_FOUND too) says the state may be stale: changes after X-Projected-Seq are not in it yet.',
        params: EntityParams,
        response: { 200: { ...Entity, headers: ProjectionHeaders }, ...errorResponses(400, 404) }
      }
    },
    async (request, reply) => {
      const { projectId, entityType, entityId } = request.params
      const { entity, projectedSeq, latestSeq } = await repo.entity(projectId, entityType, entityId)
      // On the 404 too: an entity not projected yet is told apart from one that never was.
      reply.header('x-projected-seq', projectedSeq).header('x-latest-seq', latestSeq)
      if (entity === undefined) throw entityNotFound(projectId, entityType, entityId)
      return entity
    }
  )

  app.get(
    '/projects/:projectId/stats',
    {
      config: read,
      schema: {
        tags: ['projects'],
        summary: "Counts of the project's changes, kept as they are appended",
        params: ProjectParams,
        response: { 200: ProjectStats, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const { projectId } = request.params
      const stats = await repo.stats(projectId)
      if (stats === undefined) throw projectNotFound(projectId)
      return stats
    }
  )

  app.get(
    '/projects',
    {
      config: { auth: { scopes: ['projects:*:read'] } },
      schema: {
        tags: ['projects'],
        summary: 'List known projects, by id',
        description: 'Needs read access to every project (scope projects:*:read).',
        querystring: ListQuery,
        response: { 200: ProjectList, ...errorResponses(400) }
      }
    },
    async request => {
      const { limit, cursor } = request.query
      const after = decodeCursor(cursor, { projectId: { pattern: new RegExp(PROJECT_ID_PATTERN) } })?.projectId as
        string | undefined
      const { projects, next } = await repo.list(limit, after)
      return { projects, cursor: next === undefined ? null : encodeCursor({ projectId: next }) }
    }
  )
}

export default projectsRoutes
