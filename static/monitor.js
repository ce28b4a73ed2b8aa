// staticml monitoring: anonymised summaries (docs/summaries.md).
//
// The worker counts; this page owns the outbox of frozen summaries. The outbox and the partial
// counts live in localStorage (counts only, never inputs), so nothing is lost on reload. Summaries
// go out with fetch during a visit (at most every intervalMinutes) and at page hide, always
// without cookies (not sendBeacon, which sends the collector's). Global Privacy Control and Do
// Not Track switch it off; so does the visitor's toggle. With monitor.epsilon_per_day nothing
// goes out that would pass the day's privacy budget (budget.js); it waits for the next day.

import { dailyBudget } from "./budget.js";
import { showNotice } from "./status.js";
import { monitorKey, stored } from "./storage.js";

const $ = (id) => document.getElementById(id);

const RETRY_MS = 60_000;
// Browsers refuse keepalive requests once their pending bodies would pass 64 KiB in total.
const KEEPALIVE_BYTES = 64 * 1024;

function post(url, body, keepalive) {
  return fetch(url, {
    method: "POST",
    body,
    headers: { "Content-Type": "text/plain" },
    keepalive,
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
}

const byteLength = (text) => new TextEncoder().encode(text).length;

// {receive, savedPartial, attach, api} for the page configuration `config`: `attach` takes
// each runtime the page starts ("Try again" starts another), `receive` the worker's counts.
export function startMonitor(config) {
  const settings = config.monitor;
  const app = config.app.name;
  let storageFailed = false;
  const kept = (write) => {
    try {
      write();
    } catch {
      offForThisVisit();
    }
  };
  const store = {
    get: (name, fallback) => stored(monitorKey(app, name), fallback),
    set: (name, value) => kept(() => localStorage.setItem(monitorKey(app, name), JSON.stringify(value))),
    drop: (name) => kept(() => localStorage.removeItem(monitorKey(app, name))),
  };
  const budget = dailyBudget(app, settings);
  const browserDeclines = navigator.globalPrivacyControl === true || navigator.doNotTrack === "1";
  let runtime = null;
  let timer = null;
  let sending = false;
  let retryAt = 0; // after a failed send, new predictions do not make the page try again sooner
  const inFlight = new Map(); // id -> body bytes of the summaries on their way to the collector
  const received = new Set(); // ids of the summaries this page took from its worker
  const enabled = () => Boolean(settings) && !browserDeclines && !storageFailed && store.get("consent", "yes") === "yes";

  // Summaries that cannot be kept (storage blocked or full) are neither kept nor sent: the
  // outbox and, with a daily privacy budget, the ε already spent live in storage.
  function offForThisVisit(what = "them") {
    if (storageFailed) return;
    storageFailed = true;
    clearTimeout(timer);
    timer = null;
    runtime?.tell({ type: "monitor-stop" });
    showNotice(`Anonymous summaries are off for this visit: this browser did not let the page keep ${what} (its storage is blocked or full), so nothing is counted or sent.`);
  }

  function budgetLost() {
    if (!budget.lost()) return false;
    offForThisVisit("its privacy budget");
    return true;
  }

  function outbox() {
    return store.get("outbox", []);
  }

  function forget(ids) {
    store.set("outbox", outbox().filter((item) => !ids.includes(item.id)));
    show();
  }

  function receive(state) {
    if (!enabled()) return;
    // The worker repeats a ready summary until it hears "monitor-sent"; a repeat that arrives
    // after the summary was delivered and left the outbox must not be queued again.
    const fresh = state.ready.filter((item) => !received.has(item.id));
    for (const item of fresh) received.add(item.id);
    store.set("outbox", [...outbox(), ...fresh]);
    store.set("partial", { release: state.release, ready: [], partial: state.partial });
    if (state.ready.length) runtime?.tell({ type: "monitor-sent", ids: state.ready.map((item) => item.id) });
    show();
    schedule();
  }

  // The next send waits for the interval, for the collector's back-off and, once the day's
  // privacy budget is spent, for the next UTC day.
  function schedule() {
    if (!enabled() || !outbox().length || timer) return;
    const spent = !budget.allows(outbox()[0].id);
    if (budgetLost()) return;
    showBudget(spent);
    const wait = Math.max(
      0,
      store.get("last", 0) + settings.intervalMinutes * 60_000 - Date.now(),
      retryAt - Date.now(),
      spent ? budget.msToNextDay() : 0,
    );
    timer = setTimeout(() => {
      timer = null;
      sendNow();
    }, wait);
  }

  async function sendNow() {
    if (sending || !enabled()) return;
    sending = true;
    let failed = false;
    try {
      for (const item of outbox()) {
        // Handed over at page hide meanwhile (still on its way, or already gone from the outbox).
        if (inFlight.has(item.id) || !outbox().some((kept) => kept.id === item.id)) continue;
        if (!budget.take(item.id)) {
          budgetLost();
          break; // the day's budget is spent: the rest waits
        }
        const body = JSON.stringify(item.summary);
        const bytes = byteLength(body);
        let response;
        inFlight.set(item.id, bytes);
        try {
          response = await post(settings.endpoint, body, bytes <= KEEPALIVE_BYTES);
        } catch {
          failed = true; // collector unreachable: keep everything for a later try
          break;
        } finally {
          inFlight.delete(item.id);
        }
        if (response.status === 429 || response.status >= 500) {
          failed = true;
          break;
        }
        if (!response.ok) console.warn(`The collector refused a summary (${response.status}); it is dropped.`);
        forget([item.id]);
        store.set("last", Date.now());
      }
    } finally {
      sending = false;
      if (failed) backOff();
      else if (outbox().length) schedule();
    }
  }

  // A send that was scheduled before the collector asked the page to wait must not go now: the
  // pending timer is replaced by one at the end of the wait.
  function backOff() {
    retryAt = Date.now() + RETRY_MS;
    clearTimeout(timer);
    timer = null;
    schedule();
  }

  // At page hide the answer may never be seen, so a summary leaves the outbox when it is handed
  // over; if the page is still there when the send fails, it is put back for a later try.
  function flushOnHide() {
    if (!enabled()) return;
    // While the collector asked the page to wait, a send whose answer the page may never see
    // would hand the summary to a collector that refuses it; the outbox keeps it for later.
    if (Date.now() < retryAt) return;
    let room = KEEPALIVE_BYTES - [...inFlight.values()].reduce((sum, bytes) => sum + bytes, 0);
    const handed = [];
    for (const item of outbox()) {
      if (inFlight.has(item.id)) continue;
      const body = JSON.stringify(item.summary);
      const bytes = byteLength(body);
      if (bytes > room) break; // the rest waits for the next visit
      if (!budget.take(item.id)) {
        budgetLost();
        break; // and for the next day
      }
      room -= bytes;
      handed.push(item);
      inFlight.set(item.id, bytes);
      post(settings.endpoint, body, true)
        .then((response) => {
          if (response.status === 429 || response.status >= 500) putBack(item);
        }, () => putBack(item))
        .finally(() => inFlight.delete(item.id));
    }
    if (handed.length) forget(handed.map((item) => item.id));
  }

  function putBack(item) {
    if (enabled() && !outbox().some((kept) => kept.id === item.id)) store.set("outbox", [item, ...outbox()]);
    show();
    backOff();
  }

  function show() {
    const view = $("monitor-outbox");
    if (view) view.textContent = JSON.stringify(outbox().map((item) => item.summary), null, 1) || "[]";
  }

  function showBudget(spent) {
    const note = $("monitor-budget");
    if (note) note.hidden = !spent;
  }

  function setUpToggle() {
    const toggle = $("monitor-consent");
    if (!toggle) return;
    toggle.checked = enabled();
    if (browserDeclines) {
      toggle.disabled = true;
      $("monitor-note").textContent = "Your browser asks sites not to track you (Global Privacy Control or Do Not Track), so nothing is counted or sent.";
      return;
    }
    toggle.addEventListener("change", () => {
      store.set("consent", toggle.checked ? "yes" : "no");
      if (toggle.checked) {
        $("monitor-note").textContent = "Thank you. Counting starts again from your next visit.";
      } else {
        store.drop("outbox");
        store.drop("partial");
        runtime?.tell({ type: "monitor-stop" });
        $("monitor-note").textContent = "Nothing is counted or sent from this browser.";
        show();
      }
    });
  }

  return {
    receive,
    savedPartial: () => (enabled() ? JSON.stringify(store.get("partial", null)) : null),
    attach(started) {
      const first = runtime === null; // a retried boot attaches again: listen only once
      runtime = started;
      if (!settings) return;
      if (first) setUpToggle();
      show();
      if (!enabled()) {
        started.ready.then(() => started.tell({ type: "monitor-stop" }), () => {});
        return;
      }
      if (first) {
        // Told at once, not at the first summary, when this browser keeps nothing.
        kept(() => {
          localStorage.setItem(monitorKey(app, "probe"), "1");
          localStorage.removeItem(monitorKey(app, "probe"));
        });
        if (storageFailed) return;
        addEventListener("pagehide", flushOnHide);
        document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && flushOnHide());
      }
      schedule();
    },
    api: {
      enabled,
      outbox: () => outbox().map((item) => item.summary),
      budget: () => ({ spent: budget.spent(), limit: budget.limit }),
      flush: sendNow,
    },
  };
}
