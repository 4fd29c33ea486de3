// A trace: its findings (N+1 queries, slow queries, sequential calls), the waterfall (span tree, timing bars,
// service colours, errors, critical path), the selected span's detail, and the flame graph of the profile that
// sampled the selected span's subtree.
import { el, clear, fmtDuration, fmtTime, serviceColour, table } from "./dom.js";
import { getJSON } from "./api.js";
import { flameGraph } from "./flame.js";

const KINDS = { 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer" };

function buildTree(spans) {
  const byId = new Map(spans.map((s) => [s.spanId, { ...s, children: [], endNs: s.startNs + s.durationNs }]));
  const roots = [];
  for (const span of byId.values()) {
    const parent = byId.get(span.parentSpanId);
    if (parent) parent.children.push(span);
    else roots.push(span);
  }
  for (const span of byId.values()) span.children.sort((a, b) => a.startNs - b.startNs);
  roots.sort((a, b) => a.startNs - b.startNs);
  return { byId, roots };
}

// The spans whose time the trace waited on: from a span's end, walk back through the child that ended last
// before the cursor, then the one before it, and so on (Jaeger's definition).
export function criticalPath(roots) {
  const onPath = new Set();
  const walk = (span) => {
    onPath.add(span.spanId);
    let cursor = span.endNs;
    const children = [...span.children].sort((a, b) => b.endNs - a.endNs);
    for (const child of children) {
      if (child.startNs < cursor) {
        walk(child);
        cursor = child.startNs;
      }
    }
  };
  roots.forEach(walk);
  return onPath;
}

function subtreeIds(span) {
  const ids = new Set();
  const stack = [span];
  while (stack.length) {
    const current = stack.pop();
    ids.add(current.spanId);
    stack.push(...current.children);
  }
  return ids;
}

function valueText(value) {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

function attrTable(attrs) {
  const entries = Object.entries(attrs || {});
  if (!entries.length) return el("p", { class: "muted" }, "none");
  return table(["key", "value"], entries.map(([k, v]) => [k, el("span", { class: "mono" }, valueText(v))]));
}

export async function tracePage(main, traceId, params) {
  const trace = await getJSON(`/api/c13/traces/${traceId}`);
  const { byId, roots } = buildTree(trace.spans);
  const onPath = criticalPath(roots);
  const start = Math.min(...trace.spans.map((s) => s.startNs));
  const end = Math.max(...trace.spans.map((s) => s.startNs + s.durationNs));
  const total = Math.max(end - start, 1);
  const services = [...new Set(trace.spans.map((s) => s.service))];
  const errors = trace.spans.filter((s) => s.status && s.status.code === 2).length;
  const root = roots[0];

  const findings = trace.findings || [];
  const findingsSection = el("section", { class: "findings", id: "findings" });
  const waterfall = el("div", { class: "waterfall", id: "waterfall" });
  const detail = el("section", { class: "detail", id: "span-detail" });
  const flame = el("section", { class: "flame-section", id: "span-flame" });
  main.append(
    el("h1", {}, root ? `${root.service}: ${root.name}` : "trace"),
    el("p", { class: "summary" }, el("span", { class: "mono" }, traceId), ` · ${fmtTime(start)} · ${fmtDuration(total)} · `,
      `${trace.spans.length} spans · ${services.length} service${services.length > 1 ? "s" : ""}`,
      errors ? el("span", { class: "badge error" }, `${errors} error${errors > 1 ? "s" : ""}`) : "",
      ` · ${trace.profiles.length} profile${trace.profiles.length === 1 ? "" : "s"}`),
    el("p", { class: "legend" }, services.map((s) => el("span", {}, el("i", { style: `background:${serviceColour(s)}` }), s)),
      el("span", {}, el("i", { class: "critical-key" }), "critical path"), el("span", {}, el("i", { class: "error-key" }), "error")),
    findingsSection, waterfall, flame, detail);

  const rows = new Map();
  const ticks = el("div", { class: "wf-row wf-ticks" }, el("div", { class: "wf-label" }, "span"),
    el("div", { class: "wf-bar-area" }, [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const tick = el("span", { class: "tick" }, fmtDuration(total * f));
      tick.style.left = `${100 * f}%`;
      return tick;
    })));
  waterfall.append(ticks);
  const addRow = (span, depth) => {
    const failed = span.status && span.status.code === 2;
    const flagged = findings.some((f) => f.spanIds.includes(span.spanId));
    const profiled = trace.profiles.some((p) => p.spanId === span.spanId);
    const bar = el("div", { class: `wf-bar${onPath.has(span.spanId) ? " critical" : ""}`, title: `${span.name}: ${fmtDuration(span.durationNs)}` });
    bar.style.left = `${(100 * (span.startNs - start)) / total}%`;
    bar.style.width = `${Math.max((100 * span.durationNs) / total, 0.2)}%`;
    bar.style.background = serviceColour(span.service);
    const name = el("span", { class: "wf-name" }, span.name);
    const labelBox = el("div", { class: "wf-label" },
      el("span", { class: "swatch", style: `background:${serviceColour(span.service)}` }),
      el("span", { class: "wf-service" }, span.service), name,
      failed ? el("span", { class: "badge error" }, "error") : "",
      flagged ? el("span", { class: "badge finding" }, "finding") : "",
      profiled ? el("span", { class: "badge profile" }, "profile") : "");
    labelBox.style.paddingLeft = `${4 + 14 * depth}px`;
    const row = el("div", { class: `wf-row${failed ? " failed" : ""}`, dataset: { spanId: span.spanId }, tabIndex: 0 },
      labelBox, el("div", { class: "wf-bar-area" }, bar, el("span", { class: "wf-dur" }, fmtDuration(span.durationNs))));
    row.addEventListener("click", () => select(span.spanId));
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") select(span.spanId); });
    rows.set(span.spanId, row);
    waterfall.append(row);
    span.children.forEach((child) => addRow(child, depth + 1));
  };
  roots.forEach((span) => addRow(span, 0));
  showFindings(findingsSection, findings, (spanIds) => {
    for (const [id, row] of rows) row.classList.toggle("highlight", spanIds.includes(id));
    if (spanIds.length && byId.has(spanIds[0])) select(spanIds[0]);
  });

  async function select(spanId) {
    const span = byId.get(spanId);
    if (!span) return;
    for (const [id, row] of rows) row.classList.toggle("selected", id === spanId);
    const url = new URL(window.location.href);
    url.searchParams.set("uiFind", spanId);
    window.history.replaceState(null, "", url.pathname + url.search);
    showDetail(detail, span, trace.resources[span.resource]);
    await showFlame(flame, span, trace.profiles);
  }
  const first = params.get("uiFind") || (trace.profiles[0] && trace.profiles[0].spanId) || (root && root.spanId);
  if (first && byId.has(first)) await select(first);
}

// Each finding's summary as text; clicking it outlines its spans in the waterfall and selects the first.
function showFindings(section, findings, highlight) {
  section.append(el("h2", {}, `Findings (${findings.length})`));
  if (!findings.length) {
    section.append(el("p", { class: "muted" }, "No N+1 queries, slow queries or sequential calls in this trace."));
    return;
  }
  section.append(el("ul", {}, findings.map((f) => el("li", { class: "finding", dataset: { kind: f.kind } },
    el("span", { class: "badge finding" }, f.kind), " ", el("span", { class: "finding-summary" }, f.summary), " ",
    el("a", { href: "#", onclick: (event) => { event.preventDefault(); highlight(f.spanIds); } },
      `${f.spanIds.length} span${f.spanIds.length === 1 ? "" : "s"}`)))));
}

function showDetail(detail, span, resource) {
  const status = span.status || {};
  clear(detail).append(
    el("h2", {}, "Span ", el("span", { class: "span-title" }, span.name)),
    table(["", ""], [
      ["service", span.service], ["kind", KINDS[span.kind] || "unspecified"], ["route", span.route || ""],
      ["start", fmtTime(span.startNs)], ["duration", fmtDuration(span.durationNs)],
      ["status", `${["unset", "ok", "error"][status.code] || "unset"}${status.message ? `: ${status.message}` : ""}`],
      ["span id", el("span", { class: "mono" }, span.spanId)], ["parent", el("span", { class: "mono" }, span.parentSpanId || "(root)")],
      ["scope", `${(span.scope && span.scope.name) || ""} ${(span.scope && span.scope.version) || ""}`.trim()],
    ]),
    el("h3", {}, "Attributes"), attrTable(span.attributes),
    el("h3", {}, "Events"),
    span.events && span.events.length
      ? table(["time", "name", "attributes"], span.events.map((e) => [fmtDuration(e.time - span.startNs), e.name,
        el("span", { class: "mono" }, valueText(e.attributes || {}))]))
      : el("p", { class: "muted" }, "none"),
    el("h3", {}, "Links"),
    span.links && span.links.length
      ? table(["trace", "span", "attributes"], span.links.map((l) => [el("a", { href: `/trace/${l.traceId}` }, l.traceId),
        l.spanId, el("span", { class: "mono" }, valueText(l.attributes || {}))]))
      : el("p", { class: "muted" }, "none"),
    el("h3", {}, "Resource"), attrTable(resource ? resource.attributes : {}));
}

async function showFlame(section, span, profiles) {
  clear(section);
  const ids = subtreeIds(span);
  const profile = profiles.find((p) => ids.has(p.spanId) || p.sampledSpanIds.some((id) => ids.has(id)));
  section.append(el("h2", {}, "Flame graph"));
  if (!profile) {
    section.append(el("p", { class: "muted" }, "No profile sampled this span or the spans below it."));
    return;
  }
  const doc = await getJSON(`/api/c13/profiles/${encodeURIComponent(profile.profileId)}/flame?spanId=${span.spanId}`);
  section.append(
    el("p", { class: "muted" }, `profile ${profile.profileId}, cut to this span's subtree: ${fmtDuration(doc.root.value)} sampled · `,
      el("a", { href: `/api/profiles/${encodeURIComponent(profile.profileId)}` }, "speedscope JSON"), " · ",
      el("a", { href: `/api/profiles/${encodeURIComponent(profile.profileId)}?format=pprof` }, "pprof")),
    doc.root.value ? flameGraph(doc.root) : el("p", { class: "muted" }, "The profile has no samples in this span's subtree."));
}
