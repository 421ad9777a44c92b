// Health (B15): the live link (state, since, last event, reconnects, re-authorisations),
// REST latency and errors, the runtime, job runs, and the diagnostics bundle. The jobs'
// own page (views/jobs.js: Run now, the last runs, the team online) is a section of it.

import { h, clear, loading } from "../dom.js";
import { icon } from "../icons.js";
import { jobProblem } from "./jobs.js";

const REFRESH_MS = 2000;

export default {
  id: "health",
  titleKey: "nav.health",
  icon: "health",
  requires: ["/api/health"],

  mount(root, ctx) {
    const { t, i18n, api, toast } = ctx;
    const body = h("div", { id: "health-body" }, loading());
    const bundle = h(
      "button",
      { type: "button", id: "diagnostics", class: "primary", onclick: () => download() },
      icon("download"),
      t("health.diagnostics"),
    );
    root.append(
      h("div", { class: "toolbar" }, h("span", { class: "muted small grow" }, t("health.intro")), h("span", { class: "spacer" }), bundle),
      body,
    );

    function rows(pairs) {
      return h(
        "dl",
        { class: "info" },
        pairs
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [h("dt", {}, t(k)), h("dd", { dataset: { key: k } }, v === null || v === "" ? "—" : v)]),
      );
    }

    function render(data, jobs) {
      clear(body);
      const link = data.link || {};
      const rest = data.rest || {};
      const run = data.runtime || {};
      const agent = data.agent || {};
      const state = link.state || (run.link_up ? "online" : "offline");
      const grid = h(
        "div",
        { class: "health-grid" },
        h(
          "section",
          { class: "card", id: "health-link" },
          h("h3", {}, t("health.link")),
          rows([
            ["health.state", h("span", { class: `badge ${state === "online" ? "done" : "failed"}`, id: "link-state" }, t(`link.${state}`))],
            ["health.since", i18n.dateTime(link.since)],
            ["health.last_event", i18n.dateTime(link.last_event_at || run.last_event_at)],
            ["health.connects", link.connects],
            ["health.reconnects", link.reconnects],
            ["health.failed_attempts", link.attempts_failed],
            ["health.reauth_live", link.reauthentications],
            ["health.last_reason", link.last_reason],
          ]),
        ),
        h(
          "section",
          { class: "card", id: "health-rest" },
          h("h3", {}, t("health.rest")),
          rows([
            ["health.latency", rest.last_latency_ms === null || rest.last_latency_ms === undefined ? null : `${Math.round(rest.last_latency_ms)} ms`],
            ["health.requests", rest.requests],
            ["health.errors", rest.errors],
            ["health.authorizations", rest.authorizations],
            ["health.reauthorizations", rest.reauthorizations],
            ["health.rejected_records", rest.rejected_records],
            ["health.last_error", rest.last_error],
          ]),
        ),
        h(
          "section",
          { class: "card", id: "health-runtime" },
          h("h3", {}, t("health.runtime")),
          rows([
            ["health.frames", run.frames],
            ["health.bad_frames", run.bad_frames],
            ["health.connected_at", i18n.dateTime(run.connected_at)],
            ["health.last_error", run.last_error],
          ]),
        ),
        h(
          "section",
          { class: "card", id: "health-agent" },
          h("h3", {}, t("health.agent")),
          rows([
            ["health.version", agent.version],
            ["health.extension", agent.extension ? `${agent.extension} @ ${agent.domain}` : null],
            ["health.database", agent.database],
            ["health.uptime", agent.uptime_s === null || agent.uptime_s === undefined ? null : i18n.duration(agent.uptime_s)],
            ["health.pages_open", agent.live_subscribers],
          ]),
        ),
      );
      const allJobs = data.jobs && data.jobs.length ? data.jobs : jobs || [];
      const jobsCard = h("section", { class: "card", id: "health-jobs" }, h("h3", {}, t("health.jobs")));
      if (!allJobs.length) jobsCard.append(h("div", { class: "empty small" }, t("health.no_jobs")));
      for (const job of allJobs) {
        jobsCard.append(
          rows([
            ["health.job", job.name],
            ["health.job_enabled", t(job.enabled ? "health.yes" : "health.no")],
            ["health.job_last_run", job.last_run ? i18n.dateTime(job.last_run.ended_at || job.last_run.started_at) : null],
            ["health.job_result", job.last_run ? job.last_run.error || job.last_run.state : jobProblem(job, t) || job.error],
            ["health.job_next_run", i18n.dateTime(job.next_run_at)],
          ]),
        );
      }
      if (ctx.has("/api/jobs")) {
        jobsCard.append(h("a", { href: "#/jobs", id: "health-jobs-link", class: "small" }, t("health.jobs_open")));
      }
      grid.append(jobsCard);
      body.append(grid);
    }

    let stopped = false;
    let timer = null;
    async function refresh() {
      try {
        const data = await api.get("/api/health");
        if (!stopped) render(data, []);
      } catch (err) {
        if (!stopped) clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
      }
      if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
    }

    async function download() {
      bundle.disabled = true;
      try {
        const name = await api.download("/api/health/diagnostics", {}, "diagnostics.zip");
        toast(t("export.done", { name }), "ok");
      } catch (err) {
        toast(i18n.errorText(err), "error");
      } finally {
        bundle.disabled = false;
      }
    }

    refresh();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};
