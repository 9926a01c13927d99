import t from 'tap'
import { exportExpiresAt } from '../../src/core/export-retention.ts'

t.test("an export expires 7 days after it was written, at the next midnight UTC, as S3's lifecycle counts", async t => {
  t.equal(exportExpiresAt(Date.parse('2026-03-01T10:20:30.400Z')), Date.parse('2026-03-09T00:00:00.000Z'))
  t.equal(exportExpiresAt(Date.parse('2026-03-01T00:00:00.000Z')), Date.parse('2026-03-08T00:00:00.000Z'))
  t.equal(exportExpiresAt(Date.parse('2026-12-28T23:59:59.999Z')), Date.parse('2027-01-05T00:00:00.000Z'))
})
