// A timer callback that fsyncs on the event loop: one blocking-call finding ("fsync") whose
// JavaScript stack starts at saveStateSynchronously, on the marked line.
'use strict';
const fs = require('fs');

const path = process.argv[2];

function saveStateSynchronously(state) {
  const fd = fs.openSync(path, 'w');
  fs.writeSync(fd, JSON.stringify(state));
  fs.fsyncSync(fd);  // FSYNC-HERE
  fs.closeSync(fd);
}

setTimeout(function onTick() {
  saveStateSynchronously({ ticks: 1 });
  console.log('saved');
}, 10);
