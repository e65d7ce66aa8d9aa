// The real colyseus.js 0.16 client, driven by the Python tests over stdin/stdout.
//
// One JSON request per line: {"id", "cmd", ...}; one reply per line: {"id", "ok", "result"} or
// {"id", "ok": false, "error": {"name", "code", "message"}}. Handles ("c1", "r1") name clients and
// rooms. Every joined room records its events (messages, errors, state changes, leave) so that
// the tests can wait for them.
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const { Client } = require("colyseus.js");

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
    return { name: e && e.name, code: e && e.code, message: e && (e.message ?? String(e)) };
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
        // close the socket without LEAVE_ROOM (a non-consented leave)
        rooms.get(room).room.connection.transport.ws.close();
        return null;
    },
    async "room.events"({ room, from }) {
        return rooms.get(room).events.slice(from || 0);
    },
    async "room.wait"({ room, want, ms, from }) {
        return await waitFor(rooms.get(room), want, ms || 5000, from);
    },
};

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", async (line) => {
    const req = JSON.parse(line);
    let reply;
    try {
        reply = { id: req.id, ok: true, result: await commands[req.cmd](req) ?? null };
    } catch (e) {
        reply = { id: req.id, ok: false, error: describeError(e) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
});
process.on("unhandledRejection", () => {});
