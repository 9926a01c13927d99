/**
 * Sync metrics in CloudWatch's embedded metric format (../emf.ts): one JSON
 * line per vault and per run.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics'
import { emitMetrics, type MetricsSink } from '../aws/emf.ts'
import type { RunTrigger } from '../repositories/sync-runs.ts'

export const SYNC_METRICS_NAMESPACE = 'Atlas/Sync'

export type { MetricsSink }

export interface VaultMetrics {
  vaultId: string
  durationMs: number
  files: number
  bytes: number
  success: boolean
}

export class SyncMetrics {
  /** `functionName`: the function's name (AWS_LAMBDA_FUNCTION_NAME), a dimension of the per-vault metrics. */
  constructor(
    private readonly sink: MetricsSink,
    private readonly functionName?: string
  ) {}

  /** SyncDuration, FilesProcessed, BytesSynced and SyncSuccess, by vault and function (on Lambda). */
  async vault(v: VaultMetrics): Promise<void> {
    await this.emit(metrics => {
      metrics.addDimension('VaultId', v.vaultId)
      if (this.functionName !== undefined) metrics.addDimension('FunctionName', this.functionName)
      metrics.addMetric('SyncDuration', 'Seconds', v.durationMs / 1000)
      metrics.addMetric('FilesProcessed', 'Count', v.files)
      metrics.addMetric('BytesSynced', 'Bytes', v.bytes)
      metrics.addMetric('SyncSuccess', 'Count', v.success ? 1 : 0)
    })
  }

  /**
   * SyncRunSuccess by what started the run: the template's alarm watches the schedule's, by exactly these
   * dimensions (a FunctionName here would need the alarm to name the function too).
   */
  async run(trigger: RunTrigger, success: boolean): Promise<void> {
    await this.emit(metrics => {
      metrics.addDimension('Trigger', trigger)
      metrics.addMetric('SyncRunSuccess', 'Count', success ? 1 : 0)
    })
  }

  private async emit(fill: (metrics: Metrics) => void): Promise<void> {
    await emitMetrics(this.sink, SYNC_METRICS_NAMESPACE, fill)
  }
}
