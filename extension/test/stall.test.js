import { test } from "node:test";
import assert from "node:assert/strict";
import { STALL_REASONS, StallDetector } from "../src/content/stall.js";

function detector() {
  const clock = { t: 0 };
  return { clock, stall: new StallDetector({ now: () => clock.t, thresholdMs: 10_000 }) };
}

test("no chat open is idle; a chat with readable rows is ok", () => {
  const { stall } = detector();
  assert.deepEqual(stall.observe({ chatOpen: false, rows: 0, readable: 0 }), { state: "idle", reason: "" });
  assert.deepEqual(stall.observe({ chatOpen: true, rows: 5, readable: 5 }), { state: "ok", reason: "" });
  assert.equal(stall.observe({ chatOpen: true, rows: 6, readable: 6 }), null, "no change, no report");
});

test("an open chat with no rows is stalled only after the threshold, once", () => {
  const { clock, stall } = detector();
  stall.observe({ chatOpen: true, rows: 3, readable: 3 });
  clock.t = 1000;
  assert.equal(stall.observe({ chatOpen: true, rows: 0, readable: 0 }), null, "still loading");
  clock.t = 10_999;
  assert.equal(stall.observe({ chatOpen: true, rows: 0, readable: 0 }), null);
  clock.t = 11_000;
  assert.deepEqual(stall.observe({ chatOpen: true, rows: 0, readable: 0 }), { state: "stalled", reason: STALL_REASONS.noRows });
  clock.t = 60_000;
  assert.equal(stall.observe({ chatOpen: true, rows: 0, readable: 0 }), null, "reported once, not in a loop");
});

test("rows without readable text stall with their own reason; readable rows resume", () => {
  const { clock, stall } = detector();
  stall.observe({ chatOpen: true, rows: 4, readable: 0 });
  clock.t = 10_000;
  assert.deepEqual(stall.observe({ chatOpen: true, rows: 4, readable: 0 }), { state: "stalled", reason: STALL_REASONS.noText });
  clock.t = 12_000;
  assert.deepEqual(stall.observe({ chatOpen: true, rows: 5, readable: 1 }), { state: "ok", reason: "" });
});

test("a short bad spell does not accumulate across good observations", () => {
  const { clock, stall } = detector();
  stall.observe({ chatOpen: true, rows: 0, readable: 0 });
  clock.t = 9000;
  stall.observe({ chatOpen: true, rows: 2, readable: 2 });
  clock.t = 12_000;
  assert.equal(stall.observe({ chatOpen: true, rows: 0, readable: 0 }), null);
  assert.equal(stall.state, "ok");
});
