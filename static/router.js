// staticml router: the page at a site's root (docs/rollout.md). It reads manifest.json (the
// routing plan, revalidated on every load), puts this browser in a bucket and opens the release
// the plan gives that bucket: releases/<id>/. Nothing is sent anywhere.
//
// The bucket is a stable hash of (anonymous id, plan salt) mapped to [0, 1): the first 32 bits
// of SHA-256("<salt>:<id>") divided by 2^32. The id is random (crypto.randomUUID), kept in this
// browser's localStorage and never leaves it. Routes are taken in order, each covering its share
// of [0, 1); a canary is the first route, so raising its share keeps everyone who had it.

import { ROLLOUT_ASSIGNMENT, ROLLOUT_ID } from "./storage.js";

// The same rule as staticml.rollout.plan: a release id becomes part of a URL, so `..` or a
// slash must never get that far (`releases/../` is this page again: a loop).
const RELEASE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isReleaseId(value) {
  return typeof value === "string" && RELEASE_ID.test(value);
}

export async function bucket(id, salt) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${salt}:${id}`));
  return new DataView(digest).getUint32(0) / 2 ** 32;
}

export function choose(plan, point) {
  let end = 0;
  for (const route of plan.routes) {
    end += route.share;
    if (point < end) return route.release;
  }
  return plan.routes[plan.routes.length - 1].release; // rounding: the shares add up to 1
}

function anonymousId() {
  try {
    let id = localStorage.getItem(ROLLOUT_ID);
    if (!id) {
      id = crypto.randomUUID();
      localStorage.setItem(ROLLOUT_ID, id);
    }
    return id;
  } catch {
    return crypto.randomUUID(); // storage blocked: a new bucket each visit, still nothing sent
  }
}

export function checkPlan(plan) {
  if (!Array.isArray(plan?.routes) || !plan.routes.length) throw new Error("manifest.json routes to no release");
  for (const { release, share } of plan.routes) {
    if (!isReleaseId(release)) throw new Error(`manifest.json routes to ${JSON.stringify(release)}, which is not a release id`);
    if (!(Number.isFinite(share) && share >= 0 && share <= 1)) throw new Error(`manifest.json gives release ${release} the share ${JSON.stringify(share)}, not a number from 0 to 1`);
  }
  if (plan.shadow != null && !isReleaseId(plan.shadow)) throw new Error(`manifest.json's shadow ${JSON.stringify(plan.shadow)} is not a release id`);
  return plan;
}

async function readPlan() {
  const response = await fetch("manifest.json", { cache: "no-cache", credentials: "same-origin" });
  if (!response.ok) throw new Error(`manifest.json: the server answered ${response.status}`);
  return checkPlan(await response.json());
}

async function route() {
  const plan = await readPlan();
  const release = choose(plan, await bucket(anonymousId(), plan.salt));
  // The release page checks the shadow's config.json against the plan's pin of it.
  const assignment = { release, shadow: plan.shadow ?? null, shadowIntegrity: plan.shadow_integrity ?? null, serial: plan.serial };
  try {
    localStorage.setItem(ROLLOUT_ASSIGNMENT, JSON.stringify(assignment));
  } catch {
    // without storage the release page runs without a shadow
  }
  location.replace(`releases/${encodeURIComponent(release)}/${location.search}${location.hash}`);
}

if (document.body?.dataset.state === "routing") {
  route().catch((error) => {
    document.body.dataset.state = "failed";
    document.getElementById("router-status").textContent = `This site cannot choose a release: ${error.message}.`;
  });
}
