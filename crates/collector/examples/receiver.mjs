// A minimal `POST /v1/events` receiver in plain Node, for a host that takes
// the widget's events into its own backend (point `data-endpoint` at it).
// `touchpoint-collector conformance http://127.0.0.1:8787` passes against it.
// Run: node receiver.mjs [port]
import { createServer } from 'node:http';

const MAX_BODY = 1024 * 1024; // the widget never sends more; refuse bigger bodies with 413
const seen = new Set(); // ids already stored: the widget retries, so a repeat is a duplicate
const cors = { 'Access-Control-Allow-Origin': '*' }; // beacons are text/plain: no preflight, but ACAO

createServer((req, res) => {
  const send = (status, body) => {
    res.writeHead(status, { ...cors, 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'POST' || req.url !== '/v1/events') return send(404, { error: 'not found' });
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= MAX_BODY) chunks.push(c); });
  req.on('end', () => {
    if (size > MAX_BODY) return send(413, { error: `body over ${MAX_BODY} bytes` });
    let batch;
    try { batch = JSON.parse(Buffer.concat(chunks)); } catch { return send(400, { error: 'body is not JSON' }); }
    if (!Array.isArray(batch?.events)) return send(400, { error: 'no events array', field: 'events' });
    // One result per event, in order: the widget drops exactly the ones answered.
    const results = batch.events.map((e) => {
      if (typeof e?.id !== 'string') return { id: String(e?.id), status: 'rejected', reason: 'no id' };
      if (seen.has(e.id)) return { id: e.id, status: 'duplicate' };
      seen.add(e.id); // store the event here: your database, queue or warehouse
      return { id: e.id, status: 'accepted' };
    });
    send(200, { results });
  });
}).listen(Number(process.argv[2] ?? 8787), '127.0.0.1', function () {
  console.log(`listening on http://127.0.0.1:${this.address().port}`);
});
