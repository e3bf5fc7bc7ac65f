import { test } from "node:test";
import assert from "node:assert/strict";
import { StatusReporter } from "../src/lib/status-report.js";

function reporter(delivered = true) {
  const clock = { t: 0 };
  const posts = [];
  const status = new StatusReporter({
    post: async (report) => { posts.push(report); return delivered; }, now: () => clock.t, selectorsVersion: "v1",
  });
  return { clock, posts, status };
}

test("a change is posted at once; an unchanged report at most once a minute", async () => {
  const { clock, posts, status } = reporter();
  await status.update({ state: "ok", rows_seen: 1 });
  assert.equal(posts.length, 1);
  assert.equal(posts[0].selectors_version, "v1");
  clock.t = 30_000;
  await status.update({ rows_seen: 2 });
  await status.heartbeat();
  assert.equal(posts.length, 1, "only counters changed: wait for the interval");
  clock.t = 60_000;
  await status.heartbeat();
  assert.equal(posts.length, 2);
  assert.equal(posts[1].rows_seen, 2);
  clock.t = 61_000;
  await status.update({ state: "stalled", reason: "no rows" });
  await status.update({ paused: true });
  assert.deepEqual(posts.slice(2).map((p) => [p.state, p.paused]), [["stalled", false], ["stalled", true]]);
});

test("a failed post is retried on the next update or heartbeat", async () => {
  const { posts, status } = reporter(false);
  await status.update({ state: "ok" });
  await status.heartbeat();
  assert.equal(posts.length, 2);
});

test("a change made while a post is in flight is sent right after it", async () => {
  const posts = [];
  let release;
  const status = new StatusReporter({
    post: (report) => { posts.push(report); return posts.length === 1 ? new Promise((r) => { release = () => r(true); }) : Promise.resolve(true); },
    now: () => 0,
  });
  const first = status.update({ state: "ok" });
  await status.update({ state: "stalled" });
  release();
  await first;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(posts.map((p) => p.state), ["ok", "stalled"]);
});
