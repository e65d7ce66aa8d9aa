// A real Colyseus 0.16 server (@colyseus/core + @colyseus/ws-transport from
// tests/package-lock.json) for the Python client tests. Usage:
//   node client/node_server.mjs [port]
// It prints {"listening": <port>} once it accepts connections (port 0 or none:
// a free port).
import { Server, Room, ServerError } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { Schema, MapSchema, ArraySchema, defineTypes } from "@colyseus/schema";

class Player extends Schema {
    constructor(name) {
        super();
        this.name = name;
        this.x = 0;
        this.y = 0;
        this.hp = 100;
    }
}
defineTypes(Player, { name: "string", x: "number", y: "number", hp: "uint8" });

class State extends Schema {
    constructor() {
        super();
        this.players = new MapSchema();
        this.log = new ArraySchema();
        this.tick = 0;
    }
}
defineTypes(State, { players: { map: Player }, log: ["string"], tick: "uint32" });

class GameRoom extends Room {
    onCreate(options) {
        this.setState(new State());
        this.setMetadata({ mode: options.mode ?? "default" });
        this.setSimulationInterval(() => { this.state.tick++; }, 50);
        this.onMessage("move", (client, m) => {
            const player = this.state.players.get(client.sessionId);
            player.x = m.x;
            player.y = m.y;
        });
        this.onMessage("echo", (client, m) => client.send("echo", m));
        this.onMessage(7, (client, m) => client.send(7, m));
        this.onMessage("bytes", (client, m) => client.sendBytes("bytes", m));
        this.onMessage("types", (client, m) => client.send("types", {
            int: 42, neg: -7, big: 2 ** 40, float: 1.5, str: "héllo", bool: true, nil: null,
            list: [1, "two", { three: [3] }], nested: { a: { b: { c: "deep" } } }, echo: m,
        }));
        this.onMessage("error", (client) => client.error(4999, "custom error"));
        this.onMessage("kick", (client, code) => client.leave(code));
        this.onMessage("log", (client, text) => this.state.log.push(text));
        this.onMessage("*", (client, type, m) => client.send("wildcard", { type, message: m ?? null }));
    }

    onAuth(client, options, context) {
        if (options.reject) {
            throw new ServerError(4444, "rejected by onAuth");
        }
        return { token: context.token ?? null };
    }

    onJoin(client, options, auth) {
        this.state.players.set(client.sessionId, new Player(options.name ?? ""));
        client.send("welcome", { sessionId: client.sessionId, auth });
    }

    async onLeave(client, consented) {
        if (!consented) {
            try {
                const next = await this.allowReconnection(client, 10);
                next.send("reconnected", { sessionId: next.sessionId });
                return;
            } catch (e) { /* expired */ }
        }
        this.state.players.delete(client.sessionId);
    }
}

const transport = new WebSocketTransport();
const server = new Server({ transport, greet: false });
server.define("game", GameRoom);
await server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
process.stdout.write(JSON.stringify({ listening: transport.server.address().port }) + "\n");
