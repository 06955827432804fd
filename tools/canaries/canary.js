// loopsan's node canary, for `loopsan selftest`: `node canary.js blocking-call DIR`.
// A timer callback that fsyncs on the event loop: one blocking-call finding ("fsync") whose
// JavaScript stack names canaryFsyncInTimer, read through V8's API from inside the shim.
'use strict';
const fs = require('fs');
const path = require('path');

const [mode, dir] = process.argv.slice(2);
if (mode !== 'blocking-call' || !dir) {
  console.error('usage: node canary.js blocking-call DIR (run by `loopsan selftest`)');
  process.exit(2);
}

function canaryFsyncInTimer() {
  const file = path.join(dir, 'canary-fsync.txt');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, 'canary\n');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.unlinkSync(file);
}

// From a timer set by a timer: libuv runs the first timers before its first epoll_wait, when
// the thread is not yet known to run a loop; the second runs after one.
setTimeout(() => setTimeout(canaryFsyncInTimer, 1), 1);
