/**
 * /projects metrics in CloudWatch's embedded metric format (../../emf.ts),
 * namespace Atlas/Projects, with no per-project dimension (projects are
 * unbounded; CloudWatch bills every dimension value as a metric):
 *   ChangesAppended  (Count)    per append request, the changes it appended (duplicates left out);
 *   AppendBatchSize  (Count)    per append request, the changes it carried;
 *   ProjectionLag    (Seconds)  per page the projection applied, how long after its append
 *                                the page's oldest batch was projected.
 * A metric that fails to go out is reported, never the caller's failure.
 */
import { emitMetrics, type MetricsSink } from '../../aws/emf.ts'
import type { BatchItem } from './items.ts'

export const PROJECTS_METRICS_NAMESPACE = 'Atlas/Projects'

export class ProjectsMetrics {
  constructor(
    /** Where lines go; none: no metrics (and Powertools never loaded). */
    private readonly sink: MetricsSink | undefined,
    private readonly onError: (err: unknown, what: string) => void
  ) {}

  async appended(carried: number, appended: number): Promise<void> {
    await this.emit(metrics => {
      metrics.addMetric('ChangesAppended', 'Count', appended)
      metrics.addMetric('AppendBatchSize', 'Count', carried)
    })
  }

  async projected(batches: Array<Pick<BatchItem, 'createdAt'>>): Promise<void> {
    const oldest = Math.min(...batches.map(batch => Date.parse(batch.createdAt)))
    await this.emit(metrics => metrics.addMetric('ProjectionLag', 'Seconds', Math.max(0, Date.now() - oldest) / 1000))
  }

  private async emit(fill: Parameters<typeof emitMetrics>[2]): Promise<void> {
    if (this.sink === undefined) return
    await emitMetrics(this.sink, PROJECTS_METRICS_NAMESPACE, fill).catch(err => this.onError(err, 'emitting metrics'))
  }
}
