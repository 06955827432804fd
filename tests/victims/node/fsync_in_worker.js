// A worker thread runs its own isolate and its own event loop: a timer callback there that
// fsyncs is reported on the worker's thread, with the worker's JavaScript stack.
'use strict';
const fs = require('fs');
const { Worker, isMainThread, workerData } = require('worker_threads');

function flushJournalInWorker(path) {
  const fd = fs.openSync(path, 'w');
  fs.fsyncSync(fd);  // WORKER-FSYNC-HERE
  fs.closeSync(fd);
}

if (isMainThread) {
  const worker = new Worker(__filename, { workerData: process.argv[2] });
  worker.on('exit', (code) => console.log('worker exited', code));
} else {
  setTimeout(() => flushJournalInWorker(workerData), 10);
}
