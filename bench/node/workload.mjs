// The standard benchmark workload (JS twin of bench/workload.py; same states).
export const TWO_PI = 2 * Math.PI;
export const TABLE_MASK = 4095;

export const TABLE = (() => {
    const out = new Float64Array(TABLE_MASK + 1);
    let a = 12345 >>> 0;
    for (let i = 0; i <= TABLE_MASK; i++) {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = Math.imul(a ^ (a >>> 15), a | 1) >>> 0;
        t = ((t + Math.imul(t ^ (t >>> 7), t | 61)) >>> 0) ^ t;
        out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    return out;
})();

export function playerFields(serial) {
    const b = 5 * serial;
    return {
        x: TABLE[b & TABLE_MASK] * 1000,
        y: TABLE[(b + 1) & TABLE_MASK] * 1000,
        angle: TABLE[(b + 2) & TABLE_MASK] * TWO_PI,
        hp: 1 + serial % 100,
        name: "Player" + String(serial).padStart(2 + serial % 5, "0"),
        score: (serial * 37) % 100000,
    };
}

export function changedPerTick(n, k) { return Math.max(1, Math.round(n * k / 100)); }

// hooks: { newPlayer(fields), insert(key, p), remove(key), setTick(t) }
export class Workload {
    constructor(n, k, hooks) {
        this.n = n; this.k = k; this.m = changedPerTick(n, k);
        this.t = 0; this.nextSerial = 0; this.live = []; this.head = 0;
        this.hooks = hooks;
        for (let i = 0; i < n; i++) { this.add(); }
        hooks.setTick(0);
    }
    add() {
        const serial = this.nextSerial++;
        const key = "p" + String(serial).padStart(8, "0");
        const p = this.hooks.newPlayer(playerFields(serial));
        this.hooks.insert(key, p);
        this.live.push([key, p]);
    }
    step() {
        const t = ++this.t;
        if (t % 10 === 0) {
            const [key] = this.live[this.head];
            this.live[this.head++] = undefined;
            if (this.head > 4096 && this.head * 2 > this.live.length) {
                this.live = this.live.slice(this.head);
                this.head = 0;
            }
            this.hooks.remove(key);
            this.add();
        }
        const { n, m, live, head } = this;
        const c = ((t - 1) * m) % n;
        for (let j = 0; j < m; j++) {
            const b = t * 7919 + j * 3;
            const p = live[head + (c + j) % n][1];
            p.x = (p.x + 1 + 4 * TABLE[b & TABLE_MASK]) % 1000;
            p.y = (p.y + 1 + 4 * TABLE[(b + 1) & TABLE_MASK]) % 1000;
            p.angle = (p.angle + 0.1 + TABLE[(b + 2) & TABLE_MASK]) % TWO_PI;
        }
        this.hooks.setTick(t);
    }
}
