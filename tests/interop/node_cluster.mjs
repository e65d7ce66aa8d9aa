// A Node Colyseus 0.16 process on a shared Redis (@colyseus/redis-presence and
// @colyseus/redis-driver, pinned in tests/package-lock.json), beside Python processes.
// Usage: node interop/node_cluster.mjs <port> <redis url>
// It serves "trio" rooms (3 seats, filterBy mode) like tests/server/cluster/app.py and prints
// {"listening": <port>, "processId": <id>} once it accepts connections.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "package.json"));
const { Server, Room, matchMaker } = require("@colyseus/core");
const { WebSocketTransport } = require("@colyseus/ws-transport");
const { RedisPresence } = require("@colyseus/redis-presence");
const { RedisDriver } = require("@colyseus/redis-driver");

const port = Number(process.argv[2]);
const redis = process.argv[3];

class Trio extends Room {
    maxClients = 3;

    onCreate(options) {
        this.setMetadata({ mode: options.mode ?? "" });
        this.onMessage("where", (client) => client.send("here", {
            processId: matchMaker.processId, roomId: this.roomId, clients: this.clients.length,
        }));
        this.onMessage("echo", (client, m) => client.send("echo", m));
    }

    async onLeave(client, consented) {
        if (!consented) {
            try { await this.allowReconnection(client, 20); } catch (e) { /* expired */ }
        }
    }
}

const transport = new WebSocketTransport();
const server = new Server({
    transport, greet: false,
    presence: new RedisPresence(redis), driver: new RedisDriver(redis),
    publicAddress: `127.0.0.1:${port}`,
});
server.define("trio", Trio).filterBy(["mode"]);
await server.listen(port, "127.0.0.1");
process.stdout.write(JSON.stringify({ listening: port, processId: matchMaker.processId }) + "\n");
