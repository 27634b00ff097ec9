// A small real SMTP server on 127.0.0.1 for the e2e tests: greeting, EHLO, MAIL, RCPT,
// DATA (dot-unstuffed), RSET, QUIT over TCP. `refuse` answers the first MAIL FROMs with
// a transient 451. Records every accepted message.
import { createServer, Socket } from "node:net";
import { AddressInfo } from "node:net";

export type Mail = { from: string; to: string[]; data: string };

export async function smtpServer(refuse = 0) {
  const mails: Mail[] = [];
  let refusals = refuse;
  const server = createServer((socket: Socket) => {
    let buffer = "";
    let inData = false;
    let data = "";
    let from = "";
    let to: string[] = [];
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply("220 test.local ESMTP");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let at: number;
      while ((at = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            mails.push({ from, to, data });
            reply("250 2.0.0 queued");
          } else {
            data += (line.startsWith(".") ? line.slice(1) : line) + "\r\n";
          }
          continue;
        }
        const upper = line.toUpperCase();
        const addr = (s: string) => (s.match(/<([^>]*)>/) ?? [, s.trim()])[1]!;
        if (upper.startsWith("EHLO") || upper.startsWith("HELO")) socket.write("250-test.local\r\n250 8BITMIME\r\n");
        else if (upper.startsWith("MAIL FROM:")) {
          if (refusals > 0) {
            refusals--;
            reply("451 4.3.0 Try again later");
          } else {
            from = addr(line.slice(10));
            to = [];
            reply("250 2.1.0 OK");
          }
        } else if (upper.startsWith("RCPT TO:")) {
          to.push(addr(line.slice(8)));
          reply("250 2.1.5 OK");
        } else if (upper === "DATA") {
          inData = true;
          data = "";
          reply("354 End data with <CR><LF>.<CR><LF>");
        } else if (upper.startsWith("RSET") || upper.startsWith("NOOP")) reply("250 2.0.0 OK");
        else if (upper.startsWith("QUIT")) {
          reply("221 2.0.0 Bye");
          socket.end();
        } else reply("502 5.5.2 Command not recognized");
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise((ok) => server.close(ok)) };
}

/** The decoded text/plain body of a single-part or multipart message. */
export function textOf(mail: Mail): string {
  const [head, ...rest] = mail.data.split("\r\n\r\n");
  const body = rest.join("\r\n\r\n");
  const boundary = head.match(/boundary="([^"]+)"/)?.[1];
  if (!boundary) return body;
  const part = body.split(`--${boundary}`).find((p) => /content-type: text\/plain/i.test(p)) ?? "";
  const [, encoded = ""] = part.split("\r\n\r\n");
  return Buffer.from(encoded.replace(/\s+/g, ""), "base64").toString("utf8");
}
