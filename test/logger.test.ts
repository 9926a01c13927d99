import t from 'tap'
import { buildApp } from '../src/app.ts'
import { loadConfig, type Runtime } from '../src/config/config.ts'

async function firstLine(
  t: { teardown: (fn: () => unknown) => void },
  runtime: Runtime
): Promise<Record<string, unknown>> {
  const lines: string[] = []
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, runtime), {
    logStream: { write: line => void lines.push(line) }
  })
  t.teardown(() => app.close())
  app.log.warn('something to say')
  return JSON.parse(lines[0]!)
}

t.test("on Lambda, lines carry what its JSON log format reads: the level's name and an RFC 3339 timestamp", async t => {
  const line = await firstLine(t, 'lambda')
  t.equal(line.level, 'warn')
  t.match(line.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.equal(line.msg, 'something to say')
})

t.test('elsewhere, pino as usual: numeric levels and epoch milliseconds', async t => {
  const line = await firstLine(t, 'server')
  t.equal(line.level, 40)
  t.type(line.time, 'number')
})
