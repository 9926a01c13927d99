/**
 * Sync metrics in CloudWatch's embedded metric format: one JSON line per
 * vault and per run, which CloudWatch Logs turns into metrics with no API
 * call. Powertools builds the lines; where they go is the caller's (stdout on
 * Lambda, the debug log elsewhere, a list in tests).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'
import type { RunTrigger } from '../repositories/sync-runs.ts'

export const SYNC_METRICS_NAMESPACE = 'Atlas/Sync'

export type MetricsSink = (emf: Record<string, unknown>) => void

export interface VaultMetrics {
  vaultId: string
  durationMs: number
  files: number
  bytes: number
  success: boolean
}

export class SyncMetrics {
  constructor(private readonly sink: MetricsSink) {}

  /** SyncDuration, FilesProcessed, BytesSynced and SyncSuccess, by vault. */
  vault(v: VaultMetrics): void {
    this.emit(metrics => {
      metrics.addDimension('VaultId', v.vaultId)
      metrics.addMetric('SyncDuration', MetricUnit.Seconds, v.durationMs / 1000)
      metrics.addMetric('FilesProcessed', MetricUnit.Count, v.files)
      metrics.addMetric('BytesSynced', MetricUnit.Bytes, v.bytes)
      metrics.addMetric('SyncSuccess', MetricUnit.Count, v.success ? 1 : 0)
    })
  }

  /** SyncRunSuccess by what started the run: the template's alarm watches the schedule's. */
  run(trigger: RunTrigger, success: boolean): void {
    this.emit(metrics => {
      metrics.addDimension('Trigger', trigger)
      metrics.addMetric('SyncRunSuccess', MetricUnit.Count, success ? 1 : 0)
    })
  }

  private emit(fill: (metrics: Metrics) => void): void {
    const metrics = new Metrics({ namespace: SYNC_METRICS_NAMESPACE, serviceName: 'atlas-api' })
    fill(metrics)
    this.sink(metrics.serializeMetrics() as unknown as Record<string, unknown>)
  }
}
