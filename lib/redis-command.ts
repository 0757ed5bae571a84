// One inline Redis command on a fresh connection, for the tests and benchmarks that drive real Redis
// servers (a write through HAProxy, a promotion): no client library, the protocol's inline form.
import { connect } from "node:net";

/** Sends `command` to the Redis server at host:port and resolves with the first line of its answer ("+OK", "$1", "-READONLY ..."). */
export function redisCommand(port: number, command: string, host = "127.0.0.1", timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let answer = "";
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to ${command} from ${host}:${port} within ${timeoutMs} ms`)));
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n")) {
        socket.destroy();
        resolve(answer.split("\r\n")[0]!);
      }
    });
    socket.on("error", reject);
  });
}
