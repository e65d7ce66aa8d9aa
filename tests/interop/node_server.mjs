// A real Colyseus server (@colyseus/core + @colyseus/ws-transport, pinned) for the Python
// client tests. Usage:
//   node interop/node_server.mjs <0.16|0.17|0.18> [port]
// 0.16 comes from tests/package-lock.json, 0.17 and 0.18 from tests/interop/colyseus-<version>.
// It prints {"listening": <port>} once it accepts connections (port 0 or none: a free port).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const generation = process.argv[2] || "0.16";
const here = path.dirname(fileURLToPath(import.meta.url));
const project = generation === "0.16" ? path.join(here, "..") : path.join(here, `colyseus-${generation}`);
const require = createRequire(path.join(project, "package.json"));
const { Server, Room, ServerError, LobbyRoom, RelayRoom } = require("@colyseus/core");
const { WebSocketTransport } = require("@colyseus/ws-transport");
const { Schema, MapSchema, ArraySchema, StateView, defineTypes, view } = require("@colyseus/schema");
console.warn = () => {};    // (5.x warns that defineTypes() is deprecated)

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
        if (this.onMessageBytes) {      // 0.17+: raw bytes have handlers of their own
            this.onMessageBytes("bytes", (client, m) => client.sendBytes("bytes", m));
        }
        this.onMessage("types", (client, m) => client.send("types", {
            int: 42, neg: -7, big: 2 ** 40, float: 1.5, str: "héllo", bool: true, nil: null,
            list: [1, "two", { three: [3] }], nested: { a: { b: { c: "deep" } } }, echo: m,
        }));
        this.onMessage("error", (client) => client.error(4999, "custom error"));
        this.onMessage("kick", (client, code) => client.leave(code));
        this.onMessage("log", (client, text) => this.state.log.push(text));
        // 0.18: a handler's return value answers room.request()
        this.onMessage("ask", (client, m) => ({ answer: m }));
        this.onMessage("boom", () => { throw new ServerError(4321, "boom"); });
        this.onMessage("drop-me", (client) => client.leave(1001));     // (a drop the client may recover)
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

    async onLeave(client, consentedOrCode) {
        // (0.16 passes `consented`; 0.17+ call onDrop for drops, and onLeave with a close code)
        if (generation === "0.16" && !consentedOrCode) {
            try {
                const next = await this.allowReconnection(client, 10);
                next.send("reconnected", { sessionId: next.sessionId });
                return;
            } catch (e) { /* expired */ }
        }
        this.state.players.delete(client.sessionId);
    }

    onDrop(client) {
        this.allowReconnection(client, 10);
    }

    onReconnect(client) {
        client.send("reconnected", { sessionId: client.sessionId });
    }
}
if (generation === "0.16") {
    delete GameRoom.prototype.onDrop;
    delete GameRoom.prototype.onReconnect;
}

// "cards": hidden hands (the twin of tests/server/test_builtin_rooms.py's CardsRoom)
class Card extends Schema {
    constructor(v) { super(); this.v = v; }
}
defineTypes(Card, { v: "number" });

class CardPlayer extends Schema {
    constructor(name) { super(); this.name = name; this.hand = new ArraySchema(); }
}
defineTypes(CardPlayer, { name: "string", hand: [Card] });
view()(CardPlayer.prototype, "hand");       // (what `@view() @type([Card]) hand` does)

class CardState extends Schema {
    constructor() { super(); this.players = new MapSchema(); this.round = 0; }
}
defineTypes(CardState, { players: { map: CardPlayer }, round: "number" });

class CardsRoom extends Room {
    onCreate() {
        this.setState(new CardState());
        this.joined = 0;
        this.onMessage("reveal", (client, name) => client.view.add(this.byName(name)));
        this.onMessage("hide", (client, name) => client.view.remove(this.byName(name)));
        this.onMessage("peek", (client, { name, index }) => client.view.add(this.byName(name).hand[index]));
        this.onMessage("deal", (client, v) => {
            this.state.players.get(client.sessionId).hand.push(new Card(v));
            this.state.round++;
        });
        this.onMessage("discard", (client) => { this.state.players.get(client.sessionId).hand.shift(); });
    }
    byName(name) {
        return Array.from(this.state.players.values()).find((p) => p.name === name);
    }
    onJoin(client, options) {
        const player = new CardPlayer(options.name);
        this.joined++;
        for (let i = 0; i < 3; i++) { player.hand.push(new Card(this.joined * 10 + i)); }
        this.state.players.set(client.sessionId, player);
        client.view = new StateView();
        client.view.add(player);
    }
}

const transport = new WebSocketTransport();
const server = new Server({ transport, greet: false });
server.define("game", GameRoom);
server.define("arena", GameRoom).enableRealtimeListing();
server.define("lobby", LobbyRoom);
server.define("relay", RelayRoom);
server.define("cards", CardsRoom);
await server.listen(Number(process.argv[3] ?? 0), "127.0.0.1");
process.stdout.write(JSON.stringify({ listening: transport.server.address().port }) + "\n");
