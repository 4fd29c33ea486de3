// Per service and route: rate, errors and latency percentiles (RED) from the stored entry spans, and the slowest
// requests.
import { el, fmtDuration, fmtPercent, fmtTime, query, serviceColour } from "./dom.js";
import { getJSON } from "./api.js";

export async function servicesPage(main, params) {
  const service = params.get("service") || "";
  const [red, slowest] = await Promise.all([
    getJSON(`/api/c13/red?${query({ service })}`),
    getJSON(`/api/c13/slowest?${query({ service, limit: 15 })}`),
  ]);
  const rows = red.rows.map((r) => el("tr", { class: r.errors ? "has-error" : "" },
    el("td", {}, el("span", { class: "swatch", style: `background:${serviceColour(r.service)}` }), r.service),
    el("td", {}, el("a", { href: `/search?${query({ service: r.service, route: r.route })}` }, r.route)),
    el("td", { class: "num" }, String(r.requests)),
    el("td", { class: "num" }, `${r.rate.toFixed(2)}/s`),
    el("td", { class: "num" }, r.errors ? el("span", { class: "badge error" }, fmtPercent(r.errorRate)) : "0%"),
    el("td", { class: "num" }, fmtDuration(r.p50Ns)), el("td", { class: "num" }, fmtDuration(r.p95Ns)),
    el("td", { class: "num" }, fmtDuration(r.p99Ns)),
    el("td", {}, el("a", { href: `/compare?${query({ "a.service": r.service, "a.route": r.route, "b.service": r.service, "b.route": r.route })}` }, "compare"))));
  const slow = slowest.spans.map((s) => el("tr", { class: s.status && s.status.code === 2 ? "has-error" : "" },
    el("td", {}, el("a", { href: `/trace/${s.traceId}?uiFind=${s.spanId}` }, `${s.service}: ${s.name}`)),
    el("td", {}, s.route || ""), el("td", { class: "num" }, fmtDuration(s.durationNs)), el("td", {}, fmtTime(s.startNs))));
  main.append(
    el("h1", {}, service ? `Service ${service}` : "Services"),
    el("p", { class: "muted" }, "Requests (entry spans: SERVER, CONSUMER or roots) per service and route, over everything stored."),
    rows.length ? el("table", { class: "red", id: "red-table" },
      el("thead", {}, el("tr", {}, ["Service", "Route", "Requests", "Rate", "Errors", "p50", "p95", "p99", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)) : el("p", { class: "muted" }, "No requests stored yet."),
    el("h2", {}, "Slowest requests"),
    el("table", { class: "slowest" }, el("thead", {}, el("tr", {}, ["Span", "Route", "Duration", "Started"].map((h) => el("th", {}, h)))),
      el("tbody", {}, slow)));
}
