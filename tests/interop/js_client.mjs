// A real Colyseus client SDK, driven by the Python tests over stdin/stdout:
//   node js_client.mjs 0.16    colyseus.js 0.16.22      (tests/package.json)
//   node js_client.mjs 0.17    @colyseus/sdk 0.17.43    (tests/interop/colyseus-0.17)
//   node js_client.mjs 0.18    @colyseus/sdk 0.18.4     (tests/interop/colyseus-0.18)
//
// One JSON request per line: {"id", "cmd", ...}; one reply per line: {"id", "ok", "result"} or
// {"id", "ok": false, "error": {"name", "code", "message"}}. Handles ("c1", "r1") name clients and
// rooms. Every joined room records its events (messages, errors, state changes, drops,
// reconnections, leave) so that the tests can wait for them.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { serveCommands } from "./stdio_commands.mjs";

const generation = process.argv[2] || "0.16";
const here = path.dirname(fileURLToPath(import.meta.url));
const project = generation === "0.16" ? path.join(here, "..") : path.join(here, `colyseus-${generation}`);
const require = createRequire(path.join(project, "package.json"));
const { Client } = require(generation === "0.16" ? "colyseus.js" : "@colyseus/sdk");

// stdout carries the replies: the SDKs' own logging goes to stderr
for (const level of ["log", "info", "warn", "error", "debug"]) {
    console[level] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

const clients = new Map();
const rooms = new Map();
let next = 1;

// JSON cannot carry JS-only values; {"$date": ms}, {"$bytes": [..]}, {"$undefined": true}
// and {"$bigint": "..."} stand for them in both directions.
function revive(v) {
    if (Array.isArray(v)) { return v.map(revive); }
    if (v && typeof v === "object") {
        if ("$date" in v) { return new Date(v.$date); }
        if ("$bytes" in v) { return new Uint8Array(v.$bytes); }
        if ("$undefined" in v) { return undefined; }
        if ("$bigint" in v) { return BigInt(v.$bigint); }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
    }
    return v;
}

function plain(v) {
    if (v === undefined) { return { $undefined: true }; }
    if (typeof v === "bigint") { return { $bigint: String(v) }; }
    if (v instanceof Uint8Array) { return { $bytes: Array.from(v) }; }
    if (v instanceof Date) { return { $date: v.getTime() }; }
    if (typeof v === "number" && !Number.isFinite(v)) { return { $number: String(v) }; }
    if (Array.isArray(v)) { return v.map(plain); }
    if (v && typeof v === "object") {
        if (typeof v.toJSON === "function") { return plain(v.toJSON()); }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    }
    return v;
}

function describeError(e) {
    const out = { name: e && e.name, code: e && e.code, message: e && (e.message ?? String(e)) };
    if (e && e.status !== undefined) { out.status = e.status; }
    return out;
}

function track(room) {
    const handle = `r${next++}`;
    const entry = { room, events: [], waiters: [] };
    const push = (event) => {
        event.at = Date.now();
        entry.events.push(event);
        entry.waiters = entry.waiters.filter((w) => !w(event));
    };
    room.onMessage("*", (type, message) => push({ kind: "message", type, message: plain(message) }));
    room.onError((code, message) => push({ kind: "error", code, message }));
    room.onLeave((code, reason) => push({ kind: "leave", code, reason }));
    room.onStateChange((state) => push({ kind: "state", state: plain(state) }));
    if (room.onDrop) {          // 0.17+: automatic reconnection
        room.onDrop((code, reason) => push({ kind: "drop", code, reason }));
        room.onReconnect(() => push({ kind: "reconnect" }));
        room.reconnection.minUptime = 0;        // (the tests drop rooms right after joining)
        room.reconnection.minDelay = 50;
        room.reconnection.maxDelay = 200;
    }
    rooms.set(handle, entry);
    return handle;
}

function matches(event, want) {
    return Object.entries(want).every(([k, v]) => JSON.stringify(event[k]) === JSON.stringify(v));
}

function waitFor(entry, want, timeout, from) {
    const found = entry.events.slice(from || 0).find((e) => matches(e, want));
    if (found) { return Promise.resolve(found); }
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(want)}`)), timeout);
        entry.waiters.push((event) => {
            if (!matches(event, want)) { return false; }
            clearTimeout(timer);
            resolve(event);
            return true;
        });
    });
}

const commands = {
    async "client.new"({ endpoint, token, headers }) {
        const handle = `c${next++}`;
        const client = new Client(endpoint, headers ? { headers } : undefined);
        if (token) { client.auth.token = token; }
        clients.set(handle, client);
        return handle;
    },
    async "client.call"({ client, method, args }) {
        const c = clients.get(client);
        const result = await c[method](...revive(args || []));
        return result && typeof result.onMessage === "function" ? track(result) : plain(result);
    },
    async "client.race"({ client, method, args, count }) {
        // `count` concurrent calls; each settles to a room handle or an error
        const c = clients.get(client);
        const results = await Promise.allSettled(Array.from({ length: count }, () => c[method](...revive(args || []))));
        return results.map((r) => (r.status === "fulfilled"
            ? { ok: true, room: track(r.value), roomId: r.value.roomId }
            : { ok: false, error: describeError(r.reason) }));
    },
    async "room.info"({ room }) {
        const { room: r } = rooms.get(room);
        return { roomId: r.roomId, sessionId: r.sessionId, name: r.name, reconnectionToken: r.reconnectionToken,
                 state: r.state ? plain(r.state) : null, serializerId: r.serializerId };
    },
    async "room.send"({ room, type, message, omit }) {
        const { room: r } = rooms.get(room);
        if (omit) { r.send(type); } else { r.send(type, revive(message)); }
        return null;
    },
    async "room.sendBytes"({ room, type, bytes }) {
        rooms.get(room).room.sendBytes(type, new Uint8Array(bytes));
        return null;
    },
    async "room.sendRaw"({ room, bytes }) {
        rooms.get(room).room.connection.send(new Uint8Array(bytes));
        return null;
    },
    async "room.leave"({ room, consented }) {
        return await rooms.get(room).room.leave(consented !== false);
    },
    async "room.drop"({ room }) {
        // close the socket without LEAVE_ROOM (a non-consented leave; 0.17+ reconnect by themselves)
        rooms.get(room).room.connection.transport.ws.close();
        return null;
    },
    async "room.terminate"({ room }) {
        // the network goes away: no close frame at all (1006)
        rooms.get(room).room.connection.transport.ws.terminate();
        return null;
    },
    async "room.ping"({ room }) {
        const r = rooms.get(room).room;
        return await new Promise((resolve) => r.ping((ms) => resolve(ms)));
    },
    async "room.request"({ room, type, message, timeout }) {
        // 0.18: the handler's answer, or the error the request fails with
        try {
            return { ok: true, value: plain(await rooms.get(room).room.request(type, revive(message),
                                                                              timeout ? { timeout } : undefined)) };
        } catch (e) {
            const error = describeError(e);
            if (e && e.reason !== undefined) { error.reason = plain(e.reason); }
            return { ok: false, error };
        }
    },
    async "client.latency"({ client }) {
        return await clients.get(client).getLatency();
    },
    async "room.events"({ room, from }) {
        return rooms.get(room).events.slice(from || 0);
    },
    async "room.wait"({ room, want, ms, from }) {
        return await waitFor(rooms.get(room), want, ms || 5000, from);
    },
};

serveCommands(commands, describeError);
process.on("unhandledRejection", () => {});
