/**
 * Metrics in CloudWatch's embedded metric format: one JSON line per event,
 * which CloudWatch Logs turns into metrics with no API call. Powertools
 * builds the lines; where they go is the caller's (stdout on Lambda, the
 * debug log elsewhere, a list in tests). Powertools is imported with the
 * first line, not at start-up: most invocations emit none.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics'
import type { Logger } from 'pino'

export type MetricsSink = (emf: Record<string, unknown>) => void

/** One line of `namespace`'s metrics, filled by `fill`, handed to `sink`. */
export async function emitMetrics(
  sink: MetricsSink,
  namespace: string,
  fill: (metrics: Metrics) => void
): Promise<void> {
  const { Metrics } = await import('@aws-lambda-powertools/metrics')
  const metrics = new Metrics({ namespace, serviceName: 'atlas-api' })
  fill(metrics)
  sink(metrics.serializeMetrics() as unknown as Record<string, unknown>)
}

/** Where lines go unless told otherwise: stdout on Lambda (CloudWatch Logs reads it), the debug log elsewhere. */
export function defaultMetricsSink(
  runtime: 'server' | 'lambda',
  log: Pick<Logger, 'debug'>,
  message: string
): MetricsSink {
  return runtime === 'lambda'
    ? emf => process.stdout.write(`${JSON.stringify(emf)}\n`)
    : emf => log.debug({ emf }, message)
}
