/**
 * `npm run bench:cold [-- --runs 9] [-- --json] [-- --node 20,24] [-- --max-ratio 1.6]`: how long a
 * fresh Node process takes to load the Lambda bundle and answer its first
 * request, against a minimal Fastify + @fastify/aws-lambda handler
 * (bench/minimal-handler.ts) bundled the same way.
 *
 * On each Node major in --node (default 20 and 24, the one Lambda runs): this
 * process's own Node when it is that major, else the npm package `node@<major>`
 * (`npx -y -p node@24`), a real Node binary.
 *
 * Each run is a new `node` process, started as Lambda's runtime starts a
 * function (its V8 memory flags for the template's MemorySize; ours through
 * the function's exec wrapper, scripts/lib/node-flags.sh; the minimal handler
 * once as it is and once through the same wrapper, for a ratio with the flags
 * held equal), that records performance.now() at start, imports the bundle,
 * invokes `handler` with an HTTP API 2.0 `GET /health` event, and prints its
 * phases in ms: modules (evaluating the bundle's modules, up to the entry's
 * `cold-start:modules-loaded` mark), app (the entry's own init: config, app,
 * clients, ready), firstResponse, total, and the CPU time the process spent
 * over the same span. Runs alternate between the bundles; one warm-up run each
 * is discarded so all read their files from the page cache.
 *
 * A benchmark, not a test: it reports. With --max-ratio (CI) it also checks each
 * Node's total ratio against that ceiling, a guard against a large regression
 * on a noisy machine (above it, it measures as many runs again and judges them
 * all), and prints `N passed, N failed`; it exits 1 above it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { arch, cpus, platform, tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'
import { lambdaBuildOptions } from './esbuild-options.mjs'
import { commandLine, lambdaNodeCommand, nodeBinary } from './lib/bench-node.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    json: { type: 'boolean', default: false },
    node: { type: 'string', default: '20,24' },
    'max-ratio': { type: 'string' }
  }
})
const maxRatio = values['max-ratio'] === undefined ? undefined : Number(values['max-ratio'])
if (maxRatio !== undefined && !(maxRatio > 0)) {
  console.error(`--max-ratio must be a positive number, got ${JSON.stringify(values['max-ratio'])}`)
  process.exit(2)
}
const runs = Number(values.runs)
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a positive integer, got ${JSON.stringify(values.runs)}`)
  process.exit(2)
}
const majors = values.node.split(',').map(Number)
if (majors.some(major => !Number.isInteger(major) || major < 1)) {
  console.error(`--node must be comma-separated Node major versions, got ${JSON.stringify(values.node)}`)
  process.exit(2)
}
// With --json, stdout carries only the result.
const info = values.json ? (...args) => console.error(...args) : (...args) => console.log(...args)

/** One cold start, in a fresh process. The bundle's URL comes in argv, then the event builders' (loaded before the clock starts). */
const RUN_ONE = `
const { httpApiEvent, lambdaContext } = await import(process.argv[2])
const cpuAtStart = process.cpuUsage()
const start = performance.now()
const { handler } = await import(process.argv[1])
const loaded = performance.now()
const event = httpApiEvent({ method: 'GET', path: '/health', headers: { accept: 'application/json' }, requestId: 'BenchColdStart0=' })
const response = await handler(event, lambdaContext({ functionName: 'bench' }))
const answered = performance.now()
if (response?.statusCode !== 200 || JSON.parse(response.body).status !== 'ok') {
  console.error('unexpected response: ' + JSON.stringify(response))
  process.exit(1)
}
const modules = performance.getEntriesByName('cold-start:modules-loaded')[0]?.startTime ?? loaded
const cpu = process.cpuUsage(cpuAtStart)
console.log(JSON.stringify({ modules: modules - start, app: loaded - modules, firstResponse: answered - loaded, total: answered - start, cpu: (cpu.user + cpu.system) / 1000 }))
process.exit(0)
`
const EVENTS = pathToFileURL(join(root, 'scripts/lib/lambda-events.mjs')).href

// GET /health touches no storage: region, dummy credentials and quiet logs are all either bundle needs.
const runEnv = {
  PATH: process.env.PATH,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK0000000',
  AWS_SECRET_ACCESS_KEY: 'bench-secret-not-used',
  NODE_ENV: 'production',
  LOG_LEVEL: 'silent',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  // The SDK warns once on Node < 22; the nodejs24.x runtime never pays for that, so neither do we.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  TZ: 'UTC'
}

function coldStart(command, bundle) {
  const [file, ...args] = command
  const child = spawnSync(file, [...args, '--input-type=module', '-e', RUN_ONE, pathToFileURL(bundle).href, EVENTS], {
    cwd: dirname(bundle),
    env: runEnv,
    encoding: 'utf8',
    timeout: 60_000
  })
  const last = child.stdout?.trim().split('\n').pop() ?? ''
  if (child.status !== 0 || !last.startsWith('{')) {
    throw new Error(
      `${relative(root, bundle)}: run failed (${child.status ?? child.signal})\n${child.stderr}${child.stdout}`
    )
  }
  return JSON.parse(last)
}

/**
 * The bytes a cold start parses: the entry and the chunks it imports statically
 * (`import … from "./chunks/…"`, not `import("./chunks/…")`), followed through.
 */
async function startupBytes(entry) {
  const seen = new Set()
  let bytes = 0
  const visit = async file => {
    if (seen.has(file)) return
    seen.add(file)
    const code = await readFile(file, 'utf8')
    bytes += Buffer.byteLength(code)
    for (const [, spec] of code.matchAll(/(?:\bfrom|\bimport)\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      await visit(join(dirname(file), spec))
    }
  }
  await visit(entry)
  return bytes
}

const median = numbers => {
  const sorted = [...numbers].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const round = (n, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

const ours = join(root, 'dist/lambda/index.mjs')
if (!existsSync(ours)) {
  info('dist/lambda/index.mjs is missing: npm run build')
  const build = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: ['ignore', values.json ? 2 : 'inherit', 'inherit']
  })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

const temp = await mkdtemp(join(tmpdir(), 'atlas-bench-'))
try {
  const minimal = join(temp, 'minimal', 'index.mjs')
  await esbuild.build({
    ...lambdaBuildOptions,
    absWorkingDir: root,
    entryPoints: { index: 'bench/minimal-handler.ts' },
    outdir: dirname(minimal)
  })

  const bundles = [
    { name: 'atlas', label: 'atlas (dist/lambda/index.mjs)', path: ours, wrapper: true },
    { name: 'minimal', label: 'minimal (bench/minimal-handler.ts)', path: minimal, wrapper: false },
    // The same minimal handler given our exec wrapper: what the bundle costs over it with the flags held equal.
    { name: 'minimalWrapped', label: 'minimal, through node-flags.sh', path: minimal, wrapper: true }
  ]
  for (const bundle of bundles) bundle.bytes = await startupBytes(bundle.path)

  const cpu = cpus()
  const machine = { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, platform: platform(), arch: arch() }
  const metrics = ['modules', 'app', 'firstResponse', 'total', 'cpu']
  const results = []
  const checks = []
  for (const major of majors) {
    const node = nodeBinary(major)
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
    // Each bundle started as Lambda's runtime starts a function: its memory flags; ours through its exec wrapper.
    for (const bundle of bundles) bundle.command = await lambdaNodeCommand(node, { wrapper: bundle.wrapper })
    info(`node ${version}: ${runs} cold starts per bundle, alternating, after one discarded warm-up each …`)
    const measured = bundles.map(bundle => ({ ...bundle, runs: [] }))
    const measure = count => {
      for (let i = 0; i < count; i++)
        for (const bundle of measured) bundle.runs.push(coldStart(bundle.command, bundle.path))
    }
    const totalRatio = () => median(measured[0].runs.map(r => r.total)) / median(measured[1].runs.map(r => r.total))
    for (const bundle of measured) coldStart(bundle.command, bundle.path)
    measure(runs)
    // A guard, not a timed test: one burst of load from elsewhere gets a second look (twice the runs) before it fails.
    if (maxRatio !== undefined && totalRatio() > maxRatio) {
      info(`total ratio ${totalRatio().toFixed(2)}x is above ${maxRatio}x: ${runs} more cold starts each …`)
      measure(runs)
    }
    if (maxRatio !== undefined) {
      const ok = totalRatio() <= maxRatio
      checks.push({
        ok,
        text: `node ${version}: cold start total ${totalRatio().toFixed(2)}x the minimal handler (ceiling ${maxRatio}x)`
      })
    }
    for (const bundle of measured) {
      bundle.median = Object.fromEntries(metrics.map(m => [m, round(median(bundle.runs.map(r => r[m])), 2)]))
    }
    const [a, b, c] = measured
    const ratioTo = base => ({
      size: round(a.bytes / base.bytes, 2),
      ...Object.fromEntries(metrics.map(m => [m, round(a.median[m] / base.median[m], 2)]))
    })
    const ratio = ratioTo(b)
    const ratioSameFlags = ratioTo(c)
    results.push({ node: version, runs: measured[0].runs.length, bundles: measured, ratio, ratioSameFlags })
  }

  if (values.json) {
    console.log(
      JSON.stringify(
        {
          machine,
          runs,
          results: results.map(({ node, bundles, ratio, ratioSameFlags }) => ({
            node,
            bundles: Object.fromEntries(
              bundles.map(x => [
                x.name,
                {
                  path: relative(root, x.path).startsWith('..') ? x.label : relative(root, x.path),
                  sizeKiB: round(x.bytes / 1024),
                  median: x.median,
                  runs: x.runs.map(r => Object.fromEntries(metrics.map(m => [m, round(r[m], 2)])))
                }
              ])
            ),
            ratio,
            ratioSameFlags
          }))
        },
        null,
        2
      )
    )
  } else {
    console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.platform}/${machine.arch}`)
    console.log('medians of alternating cold starts (fresh node process: import the bundle, then one GET /health)')
    console.log(
      `started as Lambda's runtime starts them: ${bundles.map(b => `${b.name}: ${commandLine(b.command)}`).join('; ')}`
    )
    console.log('modules: evaluating the bundle; app: config, app, clients, ready; size: what a cold start loads;')
    console.log('cpu: CPU time of the process over the same span, steadier than wall time when the machine is busy')
    for (const { node, runs: count, bundles, ratio, ratioSameFlags } of results) {
      report(`${node}, ${count} runs`, bundles, ratio, ratioSameFlags)
    }
  }
  if (maxRatio !== undefined) {
    for (const { ok, text } of checks) info(`${ok ? 'ok' : 'not ok'} - ${text}`)
    const passed = checks.filter(c => c.ok).length
    info(`${passed} passed, ${checks.length - passed} failed`)
    if (passed < checks.length) process.exitCode = 1
  }
} finally {
  await rm(temp, { recursive: true, force: true })
}

/** One table per Node version: medians, the ratio against the minimal handler, and against it through our wrapper. */
function report(node, bundles, ratio, ratioSameFlags) {
  const metrics = ['modules', 'app', 'firstResponse', 'total', 'cpu']
  const rows = [
    ['bundle', 'size KiB', 'modules ms', 'app ms', 'first response ms', 'total ms', 'cpu ms'],
    ...bundles.map(x => [x.label, round(x.bytes / 1024).toFixed(1), ...metrics.map(m => x.median[m].toFixed(1))]),
    ...[
      ['ratio atlas/minimal', ratio],
      ['ratio atlas/minimal, same flags', ratioSameFlags]
    ].map(([label, r]) => [label, `${r.size.toFixed(2)}x`, ...metrics.map(m => `${r[m].toFixed(2)}x`)])
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  const line = r => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')
  console.log('')
  console.log(`node ${node}`)
  console.log(line(rows[0]))
  console.log(widths.map(w => '-'.repeat(w)).join('  '))
  for (const r of rows.slice(1)) console.log(line(r))
}
