// A node program that never blocks its event loop: fs.promises, timers, a TCP server and client
// on loopback, and an asynchronous child process. No finding.
'use strict';
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { exec } = require('child_process');

async function files() {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'loopsan-node-'));
  const file = path.join(dir, 'state.json');
  await fs.promises.writeFile(file, JSON.stringify({ ok: true }));
  const handle = await fs.promises.open(file, 'r+');
  await handle.sync();  // fsync, on libuv's thread pool
  await handle.close();
  const text = await fs.promises.readFile(file, 'utf8');
  await fs.promises.rm(dir, { recursive: true });
  return JSON.parse(text).ok;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function echoOverLoopback() {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.pipe(socket));
    server.listen(0, '127.0.0.1', () => {
      const client = net.connect(server.address().port, '127.0.0.1', () => client.write('ping'));
      client.on('data', (data) => {
        client.end();
        server.close();
        resolve(data.toString());
      });
      client.on('error', reject);
    });
  });
}

function childAsync() {
  return new Promise((resolve, reject) => {
    exec('echo child', (error, stdout) => (error ? reject(error) : resolve(stdout.trim())));
  });
}

(async () => {
  const ok = await files();
  await sleep(20);
  const echoed = await echoOverLoopback();
  const child = await childAsync();
  console.log(ok, echoed, child);
})();
