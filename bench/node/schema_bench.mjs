// Measures @colyseus/schema on the standard workload, with the protocol of
// bench/encode.py: node schema_bench.mjs --impl v3|v5 --n N --k K [--runs R] [--run-ms MS]
// Prints one JSON line. --patch-digest T prints the sha256 of the first T patches instead.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { Workload } from "./workload.mjs";

const require = createRequire(import.meta.url);
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) =>
    (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const impl = args.impl || "v3";
const N = Number(args.n || 1000), K = Number(args.k || 10);
const RUNS = Number(args.runs || 5), RUN_MS = Number(args["run-ms"] || 200);
const S = require(impl === "v5" ? "schema-v5" : "schema-v3");
S.Encoder.BUFFER_SIZE = 8 * 1024 * 1024;    // no re-encoding on large full states
console.warn = () => {};                     // (5.x warns that defineTypes is deprecated)

class Player extends S.Schema {}
S.defineTypes(Player, { x: "float32", y: "float32", angle: "float32", hp: "uint8", name: "string", score: "uint32" });
class State extends S.Schema {}
S.defineTypes(State, { players: { map: Player }, tick: "uint32" });

const state = new State();
state.players = new S.MapSchema();
const work = new Workload(N, K, {
    newPlayer: (f) => Object.assign(new Player(), f),
    insert: (key, p) => state.players.set(key, p),
    remove: (key) => state.players.delete(key),
    setTick: (t) => { state.tick = t; },
});
const encoder = new S.Encoder(state);
const handshake = Buffer.from(S.Reflection.encode(encoder));
const client = S.Reflection.decode(handshake);
client.decode(Buffer.from(encoder.encodeAll()));
encoder.encode(); encoder.discardChanges();

const now = () => process.hrtime.bigint();

if (args["patch-digest"]) {
    const h = createHash("sha256");
    for (let i = 0; i < Number(args["patch-digest"]); i++) {
        work.step();
        h.update(Buffer.from(encoder.encode()));
        encoder.discardChanges();
    }
    process.stdout.write(JSON.stringify({ impl, n: N, k: K, digest: h.digest("hex") }) + "\n");
    process.exit(0);
}

function tick(acc) {
    let t0 = now(); work.step(); let t1 = now();
    const patch = encoder.encode(); encoder.discardChanges(); let t2 = now();
    const bytes = Buffer.from(patch);          // copied out of the shared buffer (not timed)
    let t3 = now(); client.decode(bytes); let t4 = now();
    acc.mutate += Number(t1 - t0); acc.encode += Number(t2 - t1); acc.decode += Number(t4 - t3);
    acc.bytes += bytes.length;
}

function check() {
    const f32 = (v) => Math.fround(v);
    const server = state.players, mirror = client.state.players;
    if (client.state.tick !== state.tick || mirror.size !== server.size) { throw new Error("client out of sync"); }
    for (const [key, p] of server) {
        const q = mirror.get(key);
        if (!q || q.x !== f32(p.x) || q.y !== f32(p.y) || q.angle !== f32(p.angle) || q.name !== p.name) {
            throw new Error(`client out of sync at ${key}`);
        }
    }
}

// warm-up: at least 50 ticks and RUN_MS
const acc0 = { mutate: 0, encode: 0, decode: 0, bytes: 0 };
let ticks = 0;
const warmStart = now();
while (ticks < 50 || Number(now() - warmStart) < RUN_MS * 1e6) { tick(acc0); ticks++; }
while (work.t % 10 !== 0) { tick(acc0); }
const perTick = Number(now() - warmStart) / ticks;
const T = Math.min(50000, Math.max(10, Math.round(RUN_MS * 1e6 / perTick / 10) * 10));
check();

const runs = [];
for (let r = 0; r < RUNS; r++) {
    const acc = { mutate: 0, encode: 0, decode: 0, bytes: 0 };
    for (let i = 0; i < T; i++) { tick(acc); }
    runs.push({ mutate: acc.mutate / T, encode: acc.encode / T, decode: acc.decode / T, bytes: acc.bytes / T });
}
check();

function timeRepeated(fn, minReps, minMs, reps) {
    const start = now();
    let n = 0;
    while (n < minReps || Number(now() - start) < minMs * 1e6) { fn(); n++; }
    const out = [];
    for (let i = 0; i < reps; i++) { const t0 = now(); fn(); out.push(Number(now() - t0)); }
    return out.sort((a, b) => a - b)[Math.floor(reps / 2)];
}
const full = Buffer.from(encoder.encodeAll());
const encodeAll = timeRepeated(() => encoder.encodeAll(), 10, RUN_MS / 2, 9);
const decodeAll = timeRepeated(() => { const d = S.Reflection.decode(handshake); d.decode(full); }, 5, RUN_MS / 2, 5)
    - timeRepeated(() => S.Reflection.decode(handshake), 5, RUN_MS / 2, 5);

process.stdout.write(JSON.stringify({
    impl: `node-${impl}`, n: N, k: K, ticks: T, runs,
    encode_all_ns: encodeAll, decode_all_ns: decodeAll, full_bytes: full.length,
}) + "\n");
