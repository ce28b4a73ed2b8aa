// staticml's privacy budget per browser and UTC day (monitor.epsilon_per_day, docs/summaries.md).
//
// With monitor.epsilon every summary (drift or rollout) is ε-differentially private for each of
// its counts, and what one browser sends in a day composes: the ε of its summaries add up. The
// page keeps the day and the ε spent in localStorage (with the random ids of the summaries
// already paid for: a resend repeats the same noisy counts and costs nothing), never anything
// about the visitor, and sends nothing that would take the day past its budget. It fails safe:
// when storage is blocked or full nothing can be counted against the budget, so nothing more
// is sent in this visit; a budget record that cannot be read counts as today's budget spent.

import { monitorKey } from "./storage.js";

const MAX_IDS = 500; // a paid id forgotten early is paid again: never less private
const DAY_MS = 86_400_000;

const today = () => new Date().toISOString().slice(0, 10);

const isBudget = (kept) => typeof kept?.day === "string" && Number.isFinite(kept.spent) && Array.isArray(kept.ids);

// {allows(id), take(id), msToNextDay(), spent(), lost(), limit}: `take` spends ε for the
// summary `id` (once a day) and answers whether it may be sent now; `lost()` says whether the
// budget could not be kept in this visit (storage blocked or full). Without a daily budget,
// all is allowed.
export function dailyBudget(app, settings) {
  const key = monitorKey(app, "budget");
  const cost = settings?.epsilon ?? null;
  const limit = cost == null ? null : (settings.epsilonPerDay ?? null);
  let lost = false;

  // Today's record, or null once storage failed. A damaged record is replaced by today's budget
  // spent (it may have held today's spending): sending starts again tomorrow.
  function read() {
    if (lost) return null;
    const fresh = { day: today(), spent: 0, ids: [] };
    let kept;
    try {
      kept = JSON.parse(localStorage.getItem(key));
    } catch (error) {
      if (error instanceof SyntaxError) return write({ ...fresh, spent: limit });
      lost = true;
      return null;
    }
    if (kept === null) return fresh;
    if (!isBudget(kept)) return write({ ...fresh, spent: limit });
    return kept.day === today() ? kept : fresh;
  }

  function write(budget) {
    try {
      localStorage.setItem(key, JSON.stringify(budget));
      return budget;
    } catch {
      lost = true;
      return null;
    }
  }

  function allows(id, budget = read()) {
    if (limit == null) return true;
    if (budget === null) return false;
    // A tolerance for sums of decimal ε (0.1 + 0.2), never enough to allow one more summary.
    return budget.ids.includes(id) || budget.spent + cost <= limit + 1e-9;
  }

  function take(id) {
    if (limit == null) return true;
    const budget = read();
    if (!allows(id, budget)) return false;
    if (budget.ids.includes(id)) return true;
    return write({ day: budget.day, spent: budget.spent + cost, ids: [...budget.ids, id].slice(-MAX_IDS) }) !== null;
  }

  return {
    allows: (id) => allows(id),
    take,
    msToNextDay: () => DAY_MS - (Date.now() % DAY_MS),
    spent: () => read()?.spent ?? null,
    lost: () => limit != null && lost,
    limit,
  };
}
