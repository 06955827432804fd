// One fsyncSync call site run 10000 times from timer callbacks: V8 moves the function from
// its interpreter to baseline and optimized code on the way, which changes the native stack
// under the call. Still one finding, counted 10000 times.
'use strict';
const fs = require('fs');

const fd = fs.openSync(process.argv[2], 'w');

function flushHot(times) {
  for (let i = 0; i < times; i++) fs.fsyncSync(fd);  // HOT-FSYNC
}

// Started from a timeout: a callback that uv_run runs before its first wait (an interval due
// at once) is not on a loop thread yet.
setTimeout(() => {
  let rounds = 0;
  const timer = setInterval(() => {
    flushHot(1000);
    if (++rounds === 10) {
      clearInterval(timer);
      fs.closeSync(fd);
      console.log('flushed');
    }
  }, 1);
}, 10);
