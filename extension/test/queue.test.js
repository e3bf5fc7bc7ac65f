import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_LIMITS, QUEUE_KEYS, backoffDelay, bodyBytes, createCaptureQueue, takeBatch,
} from "../src/lib/queue.js";

/** chrome.storage.local look-alike: values are deep-copied, as a real storage would (no shared references). */
function memoryStorage(initial = {}) {
  const data = structuredClone(initial);
  const writes = [];
  return {
    data,
    writes,
    async get(keys) {
      await Promise.resolve();
      return Object.fromEntries(keys.filter((k) => k in data).map((k) => [k, structuredClone(data[k])]));
    },
    async set(values) {
      await new Promise((resolve) => setImmediate(resolve)); // a real write yields: races show up here
      writes.push(Object.keys(values));
      Object.assign(data, structuredClone(values));
    },
  };
}

function capture(n) {
  return { message_id: `false_5511@c.us_ID${n}`, chat_id: "5511@c.us", content: `m${n}`, direction: "in", timestamp: n };
}

/** An agent stub: answers each item with statusFor(body), records what it received. */
function agent(statusFor = () => 201) {
  const received = [];
  const calls = [];
  const send = async (bodies) => {
    calls.push(bodies.map((b) => b.message_id));
    const results = bodies.map((body) => ({ status: statusFor(body) }));
    bodies.forEach((body, i) => { if (results[i].status < 300) received.push(body.message_id); });
    return { ok: true, results };
  };
  return { send, received, calls };
}

function makeQueue(overrides = {}) {
  const clock = { t: 1_000_000 };
  const delays = [];
  const queue = createCaptureQueue({
    storage: memoryStorage(), send: agent().send, now: () => clock.t, random: () => 0.5,
    scheduleRetry: (ms) => delays.push(ms), ...overrides,
  });
  return { queue, clock, delays };
}

test("enqueue dedupes by message_id, within a call and across calls", async () => {
  const { queue } = makeQueue();
  assert.deepEqual(await queue.enqueue([capture(1), capture(2), capture(1)]), { added: 2, duplicates: 1, queued: 2 });
  assert.deepEqual(await queue.enqueue([capture(2), capture(3)]), { added: 1, duplicates: 1, queued: 3 });
});

test("flush delivers in order and forgets only what was delivered; delivered ids are not queued again", async () => {
  const stub = agent();
  const { queue } = makeQueue({ send: stub.send });
  await queue.enqueue([1, 2, 3, 4].map(capture));
  const result = await queue.flush();
  assert.equal(result.status, "idle");
  assert.equal(result.delivered, 4);
  assert.deepEqual(stub.received, [1, 2, 3, 4].map((n) => capture(n).message_id));
  assert.equal(await queue.size(), 0);
  assert.deepEqual(await queue.enqueue([capture(2)]), { added: 0, duplicates: 1, queued: 0 });
});

test("an item is removed only after a 2xx; 422 is dropped; 429/503 stay queued in order", async () => {
  const statuses = { ID1: 201, ID2: 503, ID3: 422, ID4: 200, ID5: 429 };
  const stub = agent((body) => statuses[body.message_id.split("_").at(-1)]);
  const log = [];
  const { queue, delays } = makeQueue({ send: stub.send, log: (...args) => log.push(args) });
  await queue.enqueue([1, 2, 3, 4, 5].map(capture));
  const result = await queue.flush();
  assert.equal(result.status, "partial");
  assert.equal(result.delivered, 2);
  assert.equal(result.dropped, 1);
  assert.deepEqual((await queue.pending()).map((b) => b.content), ["m2", "m5"]);
  assert.equal(log.length, 1, "the 422 is logged");
  assert.equal(delays.length, 1, "a retry is scheduled");
});

test("a 4xx that can never succeed is dropped (400, 404, 413, 422); 401/403/408/409/429 stay queued", async () => {
  const statuses = { ID1: 400, ID2: 401, ID3: 403, ID4: 408, ID5: 409, ID6: 413, ID7: 429, ID8: 404, ID9: 201 };
  const stub = agent((body) => statuses[body.message_id.split("_").at(-1)]);
  const log = [];
  const { queue } = makeQueue({ send: stub.send, log: (...args) => log.push(args) });
  await queue.enqueue([1, 2, 3, 4, 5, 6, 7, 8, 9].map(capture));
  const result = await queue.flush();
  assert.equal(result.status, "partial");
  assert.deepEqual([result.delivered, result.dropped], [1, 3]);
  assert.deepEqual((await queue.pending()).map((b) => b.content), ["m2", "m3", "m4", "m5", "m7"]);
  assert.deepEqual(log.map((entry) => entry[0]), ["capture dropped (400)", "capture dropped (413)",
    "capture dropped (404)"]);
});

test("a whole batch refused 4xx does not block the queue: items go alone, the poison one is dropped", async () => {
  const calls = [];
  const send = async (bodies) => {
    calls.push(bodies.length);
    if (bodies.some((b) => b.content === "m2")) {
      return bodies.length === 1 ? { ok: true, results: [{ status: 400 }] } : { ok: false, status: 400, code: "invalid_json" };
    }
    return { ok: true, results: bodies.map(() => ({ status: 201 })) };
  };
  const poisonAlone = async (bodies) => {
    if (bodies.length !== 1 || bodies[0].content !== "m2") return send(bodies);
    calls.push(1);
    return { ok: false, status: 413, code: "payload_too_large" };
  };
  for (const sender of [send, poisonAlone]) {
    calls.length = 0;
    const log = [];
    const { queue } = makeQueue({ send: sender, log: (...args) => log.push(args) });
    await queue.enqueue([1, 2, 3].map(capture));
    const result = await queue.flush();
    assert.equal(result.status, "idle");
    assert.deepEqual([result.delivered, result.dropped], [2, 1]);
    assert.equal(await queue.size(), 0);
    assert.deepEqual(calls, [3, 1, 1, 1]);
    assert.equal(log.length, 1);
  }
});

test("a failed request (agent down, 5xx, thrown error) keeps every item and backs off", async () => {
  let mode = "down";
  const send = async (bodies) => {
    if (mode === "down") throw new TypeError("Failed to fetch");
    if (mode === "500") return { ok: false, status: 500 };
    return { ok: true, results: bodies.map(() => ({ status: 201 })) };
  };
  const { queue, clock, delays } = makeQueue({ send });
  await queue.enqueue([capture(1), capture(2)]);
  assert.equal((await queue.flush()).status, "failed");
  assert.equal(await queue.size(), 2);
  assert.equal((await queue.flush()).status, "backoff", "no early retry while backing off");
  clock.t = queue.retryAt;
  mode = "500";
  assert.equal((await queue.flush()).status, "failed");
  assert.equal(await queue.size(), 2);
  mode = "up";
  assert.equal((await queue.flush({ force: true })).status, "idle");
  assert.equal(await queue.size(), 0);
  assert.equal(queue.attempt, 0, "success resets the backoff");
  assert.equal(delays.length, 2);
});

test("blocked (not paired) stops without backoff growth", async () => {
  const { queue, delays } = makeQueue({ send: async () => ({ ok: false, status: 401, blocked: true, code: "unauthorized" }) });
  await queue.enqueue([capture(1)]);
  assert.equal((await queue.flush()).status, "blocked");
  assert.equal(delays.length, 0);
  assert.equal(await queue.size(), 1);
});

test("backoff grows from 1 s, doubles and is capped at 30 s, with jitter", () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map((n) => backoffDelay(n, DEFAULT_LIMITS, mid)),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(backoffDelay(0, DEFAULT_LIMITS, () => 0), 800);
  assert.equal(backoffDelay(0, DEFAULT_LIMITS, () => 0.999999), 1200);
  assert.ok(backoffDelay(10, DEFAULT_LIMITS, () => 0.999999) <= 30000);
});

test("the queue's retry delays grow across consecutive failures and honour Retry-After", async () => {
  const { queue, clock, delays } = makeQueue({ send: async () => ({ ok: false, status: 503 }) });
  await queue.enqueue([capture(1)]);
  for (let i = 0; i < 7; i += 1) {
    await queue.flush();
    clock.t = queue.retryAt;
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  const slow = makeQueue({ send: async () => ({ ok: false, status: 429, retryAfterMs: 45000 }) });
  await slow.queue.enqueue([capture(1)]);
  await slow.queue.flush();
  assert.deepEqual(slow.delays, [45000]);
});

test("the queue survives a restart: a new queue over the same storage delivers what was left", async () => {
  const storage = memoryStorage();
  const down = createCaptureQueue({ storage, send: async () => ({ ok: false, status: 0 }), scheduleRetry() {} });
  await down.enqueue([1, 2, 3].map(capture));
  await down.flush();
  const stub = agent();
  const restarted = createCaptureQueue({ storage, send: stub.send });
  assert.equal(await restarted.size(), 3);
  await restarted.flush();
  assert.deepEqual(stub.received, [1, 2, 3].map((n) => capture(n).message_id));
  const again = createCaptureQueue({ storage, send: stub.send });
  assert.deepEqual(await again.enqueue([capture(3)]), { added: 0, duplicates: 1, queued: 0 },
    "delivered ids are remembered across restarts");
  assert.deepEqual(Object.keys(storage.data).sort(), [QUEUE_KEYS.delivered, QUEUE_KEYS.items].sort());
});

test("concurrent enqueues are serialized: nothing is lost or duplicated", async () => {
  const storage = memoryStorage();
  const queue = createCaptureQueue({ storage, send: agent().send });
  await Promise.all(Array.from({ length: 50 }, (_, i) => queue.enqueue([capture(i), capture((i + 1) % 50)])));
  const fresh = createCaptureQueue({ storage, send: agent().send });
  const ids = (await fresh.pending()).map((b) => b.message_id);
  assert.equal(ids.length, 50);
  assert.equal(new Set(ids).size, 50);
});

test("enqueues during a flush are kept and delivered by the same flush", async () => {
  const stub = agent();
  const holder = {};
  let injected = false;
  const send = async (bodies) => {
    if (!injected) {
      injected = true;
      await holder.queue.enqueue([capture(99)]);
    }
    return stub.send(bodies);
  };
  const { queue } = makeQueue({ send, limits: { maxItems: 2 } });
  holder.queue = queue;
  await queue.enqueue([1, 2, 3].map(capture));
  await Promise.all([queue.flush(), queue.flush()]);
  assert.deepEqual(stub.calls, [[1, 2], [3, 99]].map((pair) => pair.map((n) => capture(n).message_id)));
  assert.equal(await queue.size(), 0);
});

test("a failed storage write leaves the queue unchanged and later writes still work", async () => {
  const storage = memoryStorage();
  let fail = true;
  const flaky = { get: storage.get, async set(values) { if (fail) throw new Error("QUOTA_BYTES"); return storage.set(values); } };
  const queue = createCaptureQueue({ storage: flaky, send: agent().send });
  await assert.rejects(queue.enqueue([capture(1)]), /QUOTA/);
  assert.equal(await queue.size(), 0);
  fail = false;
  assert.equal((await queue.enqueue([capture(1)])).added, 1);
});

test("takeBatch respects the item and byte limits but always takes one", () => {
  const items = Array.from({ length: 1200 }, (_, i) => ({ body: capture(i), bytes: 1000 }));
  assert.equal(takeBatch(items), 500);
  assert.equal(takeBatch(items, { maxItems: 500, maxBytes: 10_500 }), 10);
  assert.equal(takeBatch([{ bytes: 5_000_000 }, { bytes: 1 }], DEFAULT_LIMITS), 1);
  assert.equal(takeBatch([]), 0);
  assert.equal(bodyBytes({ content: "é" }), '{"content":"é"}'.length + 1, "bytes, not characters");
});

test("a big history is sent in batches of at most 500 items", async () => {
  const stub = agent();
  const { queue } = makeQueue({ send: stub.send });
  await queue.enqueue(Array.from({ length: 1234 }, (_, i) => capture(i)));
  await queue.flush();
  assert.deepEqual(stub.calls.map((c) => c.length), [500, 500, 234]);
  assert.equal(stub.received.length, 1234);
});
