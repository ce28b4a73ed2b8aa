// staticml's privacy budget per browser and UTC day (monitor.epsilon_per_day, docs/summaries.md).
//
// With monitor.epsilon every summary (drift or rollout) is ε-differentially private for each of
// its counts, and what one browser sends in a day composes: the ε of its summaries add up. The
// page keeps the day and the ε spent in localStorage (with the random ids of the summaries
// already paid for: a resend repeats the same noisy counts and costs nothing), never anything
// about the visitor, and sends nothing that would take the day past its budget. When storage
// is blocked nothing can be counted against the budget, so nothing is sent.

import { monitorKey, stored } from "./storage.js";

const MAX_IDS = 500; // a paid id forgotten early is paid again: never less private
const DAY_MS = 86_400_000;

const today = () => new Date().toISOString().slice(0, 10);

// {allows(id), take(id), msToNextDay(), spent(), limit}: `take` spends ε for the summary `id`
// (once a day) and answers whether it may be sent now. Without a daily budget, all is allowed.
export function dailyBudget(app, settings) {
  const key = monitorKey(app, "budget");
  const cost = settings?.epsilon ?? null;
  const limit = cost == null ? null : (settings.epsilonPerDay ?? null);

  function read() {
    const kept = stored(key, null);
    return kept?.day === today() && Array.isArray(kept.ids) ? kept : { day: today(), spent: 0, ids: [] };
  }

  function allows(id, budget = read()) {
    // A tolerance for sums of decimal ε (0.1 + 0.2), never enough to allow one more summary.
    return limit == null || budget.ids.includes(id) || budget.spent + cost <= limit + 1e-9;
  }

  function take(id) {
    if (limit == null) return true;
    const budget = read();
    if (!allows(id, budget)) return false;
    if (budget.ids.includes(id)) return true;
    const next = { day: budget.day, spent: budget.spent + cost, ids: [...budget.ids, id].slice(-MAX_IDS) };
    try {
      localStorage.setItem(key, JSON.stringify(next));
    } catch {
      return false;
    }
    return true;
  }

  return {
    allows: (id) => allows(id),
    take,
    msToNextDay: () => DAY_MS - (Date.now() % DAY_MS),
    spent: () => read().spent,
    limit,
  };
}
