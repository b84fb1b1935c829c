// Baseline: a minimal Node.js `http` SSE server pushing a pre-rendered fragment (the same bytes Slotcast sends).
// node bench/baselines/node_sse.js PORT FRAGMENT_FILE   GET /events subscribes; POST /publish sends to all, 201.
"use strict";
const http = require("http");
const fs = require("fs");

const [port, fragmentFile] = process.argv.slice(2);
const data = fs.readFileSync(fragmentFile, "utf8").split("\n").map((line) => `data: ${line}\n`).join("");
const clients = new Set();
let version = 0;
let current = encode();

function encode() {
  return Buffer.from(`id: ${version}\nevent: slots\n${data}\n`);
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/events") {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    res.write(Buffer.concat([Buffer.from("retry: 2000\n\n"), current]));
    clients.add(res);
    req.on("close", () => clients.delete(res));
  } else if (req.method === "POST" && req.url === "/publish") {
    req.resume();
    req.on("end", () => {
      version += 1;
      current = encode();
      for (const client of clients) client.write(current);
      res.writeHead(201, { "Content-Type": "application/json" }).end(`{"version": ${version}}`);
    });
  } else {
    res.writeHead(404).end();
  }
});
server.listen(Number(port), "127.0.0.1", 4096);
setInterval(() => { for (const client of clients) client.write(": ping\n\n"); }, 15000);
process.on("SIGTERM", () => process.exit(0));
