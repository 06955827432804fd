// A timer callback that spins on the CPU for 400 ms: node's event loop stalls in JavaScript.
'use strict';

function busyWork(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;  // STALL-HERE
  return n;
}

function onTimer() {
  busyWork(400);
}

setTimeout(onTimer, 20);
setTimeout(() => console.log('done'), 500);
