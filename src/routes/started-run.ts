import type { FastifyReply } from 'fastify'

/**
 * How every POST that starts a long-running run answers (POST /sync, /sync/exports, /sync/restores): with
 * `?wait=`, 200 and the run's body once it has ended within the wait; otherwise 202, the run's `Location` and
 * its queued body.
 */
export async function answerStarted<R extends { runId: string }, Ended>(
  reply: FastifyReply,
  run: R,
  options: {
    waitSeconds: number | undefined
    waitFor: (runId: string, ms: number) => Promise<R>
    /** The body of an ended run; undefined while it has not ended. */
    ended: (run: R) => Ended | undefined | Promise<Ended | undefined>
    location: string
    queued: Record<string, unknown>
  }
): Promise<Ended | FastifyReply> {
  const wait = options.waitSeconds ?? 0
  if (wait > 0) {
    const body = await options.ended(await options.waitFor(run.runId, wait * 1000))
    if (body !== undefined) return body
  }
  return await reply
    .code(202)
    .header('location', options.location)
    .send({ ...options.queued, status: 'queued' as const })
}
