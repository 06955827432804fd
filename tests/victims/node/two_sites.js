// Two functions that fsync from the same timer callback, at the same depth: while V8
// interprets them their native stacks are identical (the interpreter's frames), so only their
// JavaScript stacks tell them apart. Two findings, each counted three times.
'use strict';
const fs = require('fs');

const fd = fs.openSync(process.argv[2], 'w');

function saveUsers() {
  fs.fsyncSync(fd);  // USERS
}

function saveOrders() {
  fs.fsyncSync(fd);  // ORDERS
}

let rounds = 0;
const timer = setInterval(function everyTick() {
  saveUsers();
  saveOrders();
  if (++rounds === 3) {
    clearInterval(timer);
    console.log('saved');
  }
}, 10);
