// A timer callback that runs a child process synchronously: execSync waits for the child on a
// private libuv loop (epoll_wait on a second epoll set), which blocks this thread's own loop.
'use strict';
const { execSync } = require('child_process');

function runsChildSynchronously() {
  return execSync('sleep 0.2');  // EXEC-SYNC-HERE
}

setTimeout(function onTick() {
  runsChildSynchronously();
  console.log('done');
}, 10);
