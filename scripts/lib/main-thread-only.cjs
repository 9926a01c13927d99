'use strict'
// Stands in for node:worker_threads in the Lambda bundle (scripts/esbuild-options.mjs). A Lambda handler runs on
// the main thread, and the only code bundled that asks for the module is pino's: `isMainThread` (to flush its
// stream at exit) and the Worker of thread-stream, behind log transports the function never configures (the
// pretty printer is for laptops). Loading the real module costs every cold start four internal modules.
// scripts/build.mjs fails the build when anything else imports it.
module.exports = {
  isMainThread: true,
  Worker: function Worker() {
    throw new Error('The Lambda bundle runs no worker threads: pino transports are not available in it')
  }
}
