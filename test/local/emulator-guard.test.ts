import { createReadStream } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { containRequestErrors } from '../../src/local/emulator-guard.ts'

async function listen(server: Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test(
  'an error escaping an emulator fails that request with 500 and leaves the process and other requests alone',
  async t => {
    const server = createServer((req, res) => {
      if (req.url === '/stream') {
        // An emulator streaming a file that is not there: an unhandled 'error' on a stream.
        createReadStream('/nonexistent/part/1').pipe(res)
      } else if (req.url === '/timer') {
        setTimeout(() => {
          throw new Error('thrown in a callback')
        }, 1)
      } else {
        res.end('fine')
      }
    })
    const logged: string[] = []
    containRequestErrors(
      {
        name: 'test emulator',
        server,
        fail: res => {
          res.writeHead(500)
          res.end('failed')
        }
      },
      line => logged.push(line)
    )
    const base = await listen(server)
    t.teardown(() => {
      server.close()
    })

    for (const path of ['/stream', '/timer']) {
      const res = await fetch(`${base}${path}`)
      t.equal(res.status, 500, path)
      t.equal(await res.text(), 'failed')
    }
    t.equal(await (await fetch(`${base}/ok`)).text(), 'fine', 'the server still answers')
    t.equal(logged.length, 2)
    t.match(logged[0], /^test emulator failed GET \/stream: ENOENT/)
  }
)
