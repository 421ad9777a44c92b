// Jobs (G2, G6, J1, J2, B5; docs/schedules.md, docs/team-mode.md): each scheduled job
// with its switch, schedule and next run, "Run now", the run in progress (on whichever
// agent of the team runs it: live from the channel's "job" topic on this agent, and
// from the run record, written about once a second, for another agent), the last runs
// (start, end, counts, error), and the team's presence on this database.
//
// A page under Health (app.js: `parent`), so the tab row keeps its width.

import { h, clear, loading } from "../dom.js";
import { icon } from "../icons.js";

const REFRESH_MS = 5000; // runs on another agent, schedules changed by another operator
const PRESENCE_MS = 15000; // team.heartbeat_s's default
const RUNS_SHOWN = 5;
const FINISHED = new Set(["ok", "failed", "lost", "stopped"]);

const TITLES = { history: "jobs.history.title", robot: "jobs.robot.title" };
const ABOUT = { history: "jobs.history.about", robot: "jobs.robot.about" };
const SWITCHES = { history: "history_import", robot: "robot_import" }; // team settings
const STATES = {
  running: "jobs.state.running",
  ok: "jobs.state.ok",
  failed: "jobs.state.failed",
  lost: "jobs.state.lost",
  stopped: "jobs.state.stopped",
};
const BADGES = { running: "open", ok: "done", failed: "failed", lost: "failed", stopped: "postponed" };
const TRIGGERS = {
  schedule: "jobs.trigger.schedule",
  manual: "jobs.trigger.manual",
  cli: "jobs.trigger.cli",
};
// The counts a run reports (agent/core/history_plan.py empty_counts, robot_plan
// RobotPlan.counts): the first ones of each job make its one-line summary.
const COUNTS = {
  imported: "jobs.count.imported",
  events: "jobs.count.events",
  records: "jobs.count.records",
  pages: "jobs.count.pages",
  planned: "jobs.count.planned",
  rows: "jobs.count.rows",
  skipped_recorded: "jobs.count.skipped_recorded",
  skipped_short: "jobs.count.skipped_short",
  skipped_internal: "jobs.count.skipped_internal",
  skipped_unimportant: "jobs.count.skipped_unimportant",
  skipped_has_event: "jobs.count.skipped_has_event",
  skipped_unmapped: "jobs.count.skipped_unmapped",
  skipped_repeated: "jobs.count.skipped_repeated",
  skipped_unreadable: "jobs.count.skipped_unreadable",
  invalid: "jobs.count.invalid",
};
// Why a job cannot run here, as the agent names it (`problem_key`, with the values
// in `problem_params`: agent/jobs/service.py Problem); another key, or none, shows the
// agent's own sentence (`problem`).
const PROBLEMS = new Set([
  "jobs.problem.bad_schedule",
  "jobs.problem.no_pbx",
  "jobs.problem.robot_not_set",
  "jobs.problem.no_robot_password",
  "jobs.problem.no_events",
]);
const SUMMARY = { history: ["imported", "events", "records"], robot: ["planned", "rows", "skipped_unmapped"] };

/** Why ``job`` cannot run here, in the operator's language when the agent gave a key. */
export function jobProblem(job, t) {
  if (!job.problem) return "";
  return PROBLEMS.has(job.problem_key) ? t(job.problem_key, job.problem_params || {}) : job.problem;
}

export default {
  id: "jobs",
  titleKey: "nav.jobs",
  icon: "jobs",
  parent: "health",
  requires: ["/api/jobs", "/api/jobs/{job}/runs", "/api/jobs/{job}/run"],

  mount(root, ctx) {
    const { t, i18n, api, store, toast } = ctx;
    const body = h("div", { id: "jobs-body" }, loading());
    const presence = h("section", { class: "card", id: "team-presence" }, h("h3", {}, t("presence.title")), loading());
    root.append(h("p", { class: "muted small" }, t("jobs.intro")), body, ctx.has("/api/team/presence") ? presence : null);

    const cards = new Map(); // job name -> {card, parts…}
    const live = new Map(); // job name -> the newest "job" message of a run on this agent
    const lastRunIds = new Map(); // job name -> the newest run's id (reload runs when it moves)
    const agents = new Map(); // agent id -> the presence entry (names the holders of a secret)
    let stopped = false;
    let timer = null;
    let presenceTimer = null;

    // An agent as operators know it: who, on which computer (else its id, shortened).
    function agentName(id) {
      const agent = agents.get(id);
      if (!agent) return id.length > 12 ? `${id.slice(0, 8)}…` : id;
      return `${agent.operator || agent.ext} (${agent.host})`;
    }

    // A holder of a job's secret ({agent_id, host, operator}): what the agent says of
    // it, completed from the presence list (an operator without a name: the extension).
    function holderName(holder) {
      const agent = agents.get(holder.agent_id);
      const who = holder.operator || (agent ? agent.operator || agent.ext : "");
      const where = holder.host || (agent ? agent.host : "");
      if (who && where) return `${who} (${where})`;
      return where || who || agentName(holder.agent_id);
    }

    function problemText(job) {
      return jobProblem(job, t);
    }

    function countText(job, counts, keys) {
      const names = keys || Object.keys(COUNTS);
      return names
        .filter((k) => counts && typeof counts[k] === "number" && (keys || counts[k] !== 0))
        .map((k) => `${t(COUNTS[k])}: ${i18n.number(counts[k])}`)
        .join(" · ");
    }

    // ------------------------------------------------------------ one job's card
    function card(job) {
      const name = job.name;
      if (cards.has(name)) return cards.get(name);
      const toggle = h("input", {
        type: "checkbox",
        id: `job-switch-${name}`,
        onchange: () => setSwitch(name, toggle),
      });
      const runButton = h(
        "button",
        { type: "button", class: "primary", id: `job-run-${name}`, onclick: () => runNow(name) },
        icon("play"),
        t("jobs.run_now"),
      );
      const facts = h("dl", { class: "info" });
      const progress = h("div", { class: "job-progress", id: `job-progress-${name}`, hidden: true });
      const runs = h("div", { class: "job-runs", id: `job-runs-${name}` });
      const el = h(
        "section",
        { class: "card job", id: `job-${name}`, dataset: { job: name } },
        h(
          "div",
          { class: "row" },
          h("h3", { class: "grow" }, t(TITLES[name] || name)),
          h("label", { class: "switch", for: `job-switch-${name}` }, toggle, t("jobs.enabled")),
        ),
        ABOUT[name] ? h("p", { class: "small muted" }, t(ABOUT[name])) : null,
        facts,
        h("div", { class: "row job-actions" }, runButton, h("a", { href: "#/settings/team", class: "small" }, t("jobs.change"))),
        progress,
        h("h4", {}, t("jobs.last_runs")),
        runs,
      );
      const parts = { el, toggle, runButton, facts, progress, runs, job };
      cards.set(name, parts);
      body.append(el);
      return parts;
    }

    function renderJob(job) {
      const parts = card(job);
      parts.job = job;
      parts.toggle.checked = Boolean(job.enabled);
      const facts = [
        ["jobs.schedule", h("span", { class: "mono" }, job.schedule || "—")],
        ["jobs.next_run", job.next_run_at ? i18n.dateTime(job.next_run_at) : t(job.enabled ? "jobs.not_here" : "jobs.switched_off")],
      ];
      if (job.problem) facts.push(["jobs.problem", h("span", { class: "warn-text", title: job.problem }, problemText(job))]);
      if (job.holders && job.holders.length) facts.push(["jobs.holders", job.holders.map(holderName).join(", ")]);
      clear(parts.facts).append(...facts.map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]).flat());
      renderProgress(job.name);
    }

    // The run in progress: this agent's live messages first, else the run record.
    function renderProgress(name) {
      const parts = cards.get(name);
      if (!parts) return;
      const job = parts.job;
      const message = live.get(name);
      let running = null;
      if (message && message.state === "running") {
        running = { here: true, host: message.host, counts: message.counts || {} };
      } else if (job.running && (!message || message.run_id !== job.running.run_id)) {
        const here = Boolean(job.running_here);
        running = { here, host: job.running.host, counts: job.running.counts || {}, alive: job.running.alive };
      }
      parts.runButton.disabled = Boolean(running) || Boolean(job.problem);
      parts.runButton.title = problemText(job);
      parts.progress.hidden = !running;
      if (!running) {
        clear(parts.progress);
        return;
      }
      const counts = running.counts;
      const bar = h("progress", { max: "1" });
      // J1 says how much of its time window is done; J2 reads its rows in one query.
      if (typeof counts.done === "number") bar.value = counts.done;
      let where = running.here ? t("jobs.running_here") : t("jobs.running_on", { host: running.host || "?" });
      if (running.alive === false) where += ` · ${t("jobs.not_responding")}`;
      clear(parts.progress).append(
        h("div", { class: "row small" }, h("span", { class: "badge open" }, t(STATES.running)), h("span", {}, where)),
        bar,
        h("div", { class: "small muted job-counts" }, countText(name, counts, SUMMARY[name]) || t("jobs.starting")),
      );
    }

    function runItem(name, run) {
      const end = run.ended_at ? i18n.time(run.ended_at) : "";
      const took = run.ended_at
        ? i18n.duration((new Date(run.ended_at).getTime() - new Date(run.started_at).getTime()) / 1000)
        : "";
      const details = h(
        "dl",
        { class: "info small" },
        [
          ["jobs.run.started", i18n.dateTime(run.started_at)],
          ["jobs.run.ended", i18n.dateTime(run.ended_at) || "—"],
          ["jobs.run.trigger", t(TRIGGERS[run.trigger] || run.trigger)],
          ["jobs.run.host", run.host],
          ["jobs.run.counts", countText(name, run.counts) || "—"],
        ].map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]),
      );
      return h(
        "details",
        { class: "job-run", dataset: { run: String(run.id), state: run.state } },
        h(
          "summary",
          {},
          h("span", { class: `badge ${BADGES[run.state] || ""}` }, t(STATES[run.state] || run.state)),
          " ",
          h("span", { class: "nowrap" }, i18n.time(run.started_at), end ? ` – ${end}` : ""),
          took ? h("span", { class: "muted small" }, ` (${took})`) : null,
          h("div", { class: "small muted" }, countText(name, run.counts, SUMMARY[name])),
          run.error ? h("div", { class: "small error-text" }, run.error) : null,
        ),
        details,
      );
    }

    async function loadRuns(name) {
      const parts = cards.get(name);
      if (!parts) return;
      try {
        const page = await api.get(`/api/jobs/${encodeURIComponent(name)}/runs`, { limit: RUNS_SHOWN });
        if (stopped) return;
        clear(parts.runs);
        if (!page.items.length) parts.runs.append(h("div", { class: "empty small" }, t("jobs.no_runs")));
        for (const run of page.items) parts.runs.append(runItem(name, run));
      } catch (err) {
        if (!stopped) clear(parts.runs).append(h("div", { class: "error-box" }, i18n.errorText(err)));
      }
    }

    // ------------------------------------------------------------ refresh
    let first = true;
    async function refresh() {
      clearTimeout(timer);
      try {
        const answer = await api.get("/api/jobs");
        if (stopped) return;
        if (first) clear(body);
        first = false;
        for (const job of answer.items) {
          renderJob(job);
          const newest = job.running ? job.running.run_id : job.last_run ? job.last_run.id : null;
          if (lastRunIds.get(job.name) !== newest || !cards.get(job.name).runs.firstChild) {
            lastRunIds.set(job.name, newest);
            loadRuns(job.name);
          }
        }
      } catch (err) {
        if (!stopped) clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
        first = true;
      }
      if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
    }

    async function runNow(name) {
      const parts = cards.get(name);
      parts.runButton.disabled = true;
      try {
        const started = await api.post(`/api/jobs/${encodeURIComponent(name)}/run`);
        toast(t("jobs.started"), "ok");
        if (!live.has(name) || live.get(name).run_id !== started.run_id) {
          live.set(name, { job: name, run_id: started.run_id, state: "running", counts: {}, host: "" });
        }
        renderProgress(name);
        loadRuns(name);
      } catch (err) {
        if (err.code !== "job_busy") {
          toast(i18n.errorText(err), "error");
          refresh();
          return;
        }
        // Running already: say where, by the computer's name (the run in progress).
        await refresh();
        const job = cards.get(name).job;
        const running = job.running;
        let text = i18n.errorText(err);
        if (job.running_here) text = t("jobs.busy_here");
        else if (running && running.host) text = t("jobs.busy_on", { host: running.host });
        toast(text, "error");
      }
    }

    async function setSwitch(name, toggle) {
      const on = toggle.checked;
      try {
        await api.put("/api/settings", { team: { [SWITCHES[name]]: on } });
        toast(t(on ? "jobs.switched_on" : "jobs.switched_off"), "ok");
      } catch (err) {
        toggle.checked = !on;
        toast(i18n.errorText(err), "error");
      }
      // The scheduler re-reads the team settings on its loop: ask again in a moment.
      setTimeout(() => !stopped && refresh(), 500);
    }

    // ------------------------------------------------------------ presence (B5)
    async function loadPresence() {
      clearTimeout(presenceTimer);
      try {
        const answer = await api.get("/api/team/presence");
        if (stopped) return;
        agents.clear();
        for (const agent of answer.items) agents.set(agent.agent_id, agent);
        for (const parts of cards.values()) renderJob(parts.job);
        const list = h("ul", { class: "presence", id: "presence-list" });
        for (const agent of answer.items) {
          const link = agent.link || "offline";
          list.append(
            h(
              "li",
              { dataset: { agent: agent.agent_id, ext: agent.ext }, class: agent.self ? "self" : "" },
              h("span", { class: `link-dot ${link}`, title: t(`link.${link}`) }),
              h(
                "span",
                { class: "grow" },
                h("strong", {}, agent.operator || agent.ext),
                agent.operator ? h("span", { class: "muted" }, ` · ${agent.ext}`) : null,
                agent.self ? h("span", { class: "badge" }, t("presence.this_agent")) : null,
                h("div", { class: "small muted" }, [agent.host, agent.version ? `v${agent.version}` : null].filter(Boolean).join(" · ")),
              ),
              h("span", { class: "small muted nowrap", title: t("presence.seen") }, i18n.time(agent.seen_at)),
            ),
          );
        }
        const shown = presence.querySelector("#presence-list, .loading, .empty, .error-box");
        const replacement = answer.items.length ? list : h("div", { class: "empty small" }, t("presence.empty"));
        if (shown) shown.replaceWith(replacement);
        else presence.append(replacement);
      } catch (err) {
        const shown = presence.querySelector("#presence-list, .loading, .empty, .error-box");
        const box = h("div", { class: "error-box" }, i18n.errorText(err));
        if (shown) shown.replaceWith(box);
        else presence.append(box);
      }
      if (!stopped) presenceTimer = setTimeout(loadPresence, PRESENCE_MS);
    }

    // ------------------------------------------------------------ live
    const off = store.on("job", (message) => {
      if (!message || !message.job) return;
      live.set(message.job, message);
      renderProgress(message.job);
      if (FINISHED.has(message.state)) {
        loadRuns(message.job);
        refresh();
      }
    });
    const offSettings = store.on("settings", () => refresh());

    refresh();
    if (ctx.has("/api/team/presence")) loadPresence();
    return () => {
      stopped = true;
      off();
      offSettings();
      clearTimeout(timer);
      clearTimeout(presenceTimer);
    };
  },
};
