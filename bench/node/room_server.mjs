// The load-test room on a Colyseus 0.16 server (@colyseus/core + ws-transport,
// pinned in package-lock.json): the Node twin of bench/room_server.py.
//   node room_server.mjs [port]     (env: ROOM_SIZE=10 ROOM_N=100 ROOM_K=10 HZ=20)
// Prints {"listening": port, "pid": pid} once it accepts connections.
import { Server, Room } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { Schema, MapSchema, defineTypes } from "@colyseus/schema";
import { Workload, playerFields } from "./workload.mjs";

const ROOM_SIZE = Number(process.env.ROOM_SIZE ?? 10);
const ROOM_N = Number(process.env.ROOM_N ?? 100);
const ROOM_K = Number(process.env.ROOM_K ?? 10);
const HZ = Number(process.env.HZ ?? 20);

class Player extends Schema {}
defineTypes(Player, { x: "float32", y: "float32", angle: "float32", hp: "uint8", name: "string", score: "uint32" });
class State extends Schema {
    constructor() { super(); this.players = new MapSchema(); this.tick = 0; }
}
defineTypes(State, { players: { map: Player }, tick: "uint32" });

function makePlayer(serial) {
    return Object.assign(new Player(), playerFields(serial));
}

let serial = 1000000;     // players of clients, after the workload's own serials

class GameRoom extends Room {
    onCreate() {
        this.maxClients = ROOM_SIZE;
        const state = new State();
        this.setState(state);
        this.workload = new Workload(ROOM_N, ROOM_K, {
            newPlayer: (fields) => Object.assign(new Player(), fields),
            insert: (key, p) => state.players.set(key, p),
            remove: (key) => state.players.delete(key),
            setTick: (t) => { state.tick = t; },
        });
        this.setPatchRate(1000 / HZ);
        this.setSimulationInterval(() => this.workload.step(), 1000 / HZ);
        this.onMessage("input", (client, m) => {
            const p = state.players.get(client.sessionId);
            if (p && m) { p.x = +m.x || 0; p.y = +m.y || 0; p.angle = +m.angle || 0; }
        });
    }
    onJoin(client) { this.state.players.set(client.sessionId, makePlayer(++serial)); }
    onLeave(client) { this.state.players.delete(client.sessionId); }
}

const transport = new WebSocketTransport();
const server = new Server({ transport, greet: false });
server.define("game", GameRoom);
await server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
process.stdout.write(JSON.stringify({ listening: transport.server.address().port, pid: process.pid }) + "\n");
