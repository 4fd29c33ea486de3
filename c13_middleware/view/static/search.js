// Trace search, with Jaeger's query parameters (/search?service=&operation=&tags=&minDuration=...).
import { el, clear, fmtDuration, fmtTime, query, serviceColour } from "./dom.js";
import { getJSON } from "./api.js";

const LOOKBACKS = [["1h", "Last hour", 3600], ["6h", "Last 6 hours", 6 * 3600], ["24h", "Last day", 86400],
  ["7d", "Last 7 days", 7 * 86400], ["all", "Any time", 0], ["custom", "Custom range", 0]];

function field(label, input) {
  return el("label", {}, el("span", {}, label), input);
}

function option(value, text, selected) {
  return el("option", { value, selected: value === selected }, text);
}

function micros(localText) {
  const ms = Date.parse(localText);
  return Number.isFinite(ms) ? String(ms * 1000) : "";
}

export async function searchPage(main, params) {
  const services = (await getJSON("/api/services")).data || [];
  const get = (name) => params.get(name) || "";
  const service = el("select", { name: "service" }, option("", "all services", get("service")),
    services.map((s) => option(s, s, get("service"))));
  const operation = el("select", { name: "operation" }, option("", "all operations", ""));
  const route = el("input", { name: "route", placeholder: "/items/{item_id}", value: get("route") });
  const status = el("select", { name: "error" }, option("", "any status", get("error")),
    option("true", "errors only", get("error")));
  const minDuration = el("input", { name: "minDuration", placeholder: "e.g. 100ms", value: get("minDuration"), size: 8 });
  const maxDuration = el("input", { name: "maxDuration", placeholder: "e.g. 2s", value: get("maxDuration"), size: 8 });
  const tags = el("input", { name: "tags", placeholder: "http.response.status_code=500", value: tagText(get("tags")) });
  const lookback = el("select", { name: "lookback" }, LOOKBACKS.map(([v, t]) => option(v, t, get("lookback") || "all")));
  const start = el("input", { type: "datetime-local", name: "startLocal", step: 1 });
  const end = el("input", { type: "datetime-local", name: "endLocal", step: 1 });
  const limit = el("input", { name: "limit", type: "number", min: 1, max: 1500, value: get("limit") || "20", size: 5 });
  const range = el("span", { class: "range", hidden: (get("lookback") || "all") !== "custom" }, field("from", start), field("to", end));
  lookback.addEventListener("change", () => { range.hidden = lookback.value !== "custom"; });

  async function loadOperations(selected) {
    clear(operation).append(option("", "all operations", selected));
    if (!service.value) return;
    const names = (await getJSON(`/api/services/${encodeURIComponent(service.value)}/operations`)).data || [];
    for (const name of names) operation.append(option(name, name, selected));
  }
  service.addEventListener("change", () => loadOperations(""));
  await loadOperations(get("operation"));

  const results = el("section", { id: "results" });
  const form = el("form", { class: "search", id: "search-form" },
    field("Service", service), field("Operation", operation), field("Route", route), field("Status", status),
    field("Min duration", minDuration), field("Max duration", maxDuration), field("Attribute key=value", tags),
    field("Time", lookback), range, field("Limit", limit), el("button", { type: "submit" }, "Find traces"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {
      service: service.value, operation: operation.value, route: route.value.trim(), error: status.value,
      minDuration: minDuration.value.trim(), maxDuration: maxDuration.value.trim(), tags: tagJSON(tags.value),
      lookback: lookback.value === "all" ? "" : lookback.value, limit: limit.value,
    };
    if (lookback.value === "custom") {
      chosen.start = micros(start.value);
      chosen.end = micros(end.value);
    }
    window.history.pushState(null, "", `/search?${query(chosen)}`);
    runSearch(results, new URLSearchParams(query(chosen)));
  });
  main.append(el("h1", {}, "Find traces"), form, results);
  await runSearch(results, params);
}

// "k=v, k2=v2" in the form; Jaeger's tags JSON object in the URL.
function tagJSON(text) {
  const out = {};
  for (const part of text.split(/[,\n]/)) {
    const at = part.indexOf("=");
    if (at > 0) out[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return Object.keys(out).length ? JSON.stringify(out) : "";
}

function tagText(json) {
  try {
    return Object.entries(JSON.parse(json || "{}")).map(([k, v]) => `${k}=${v}`).join(", ");
  } catch {
    return "";
  }
}

async function runSearch(results, params) {
  clear(results);
  const api = new URLSearchParams(params);
  const lookback = LOOKBACKS.find(([v]) => v === api.get("lookback"));
  if (lookback && lookback[2] > 0 && !api.get("start")) api.set("start", String((Date.now() - lookback[2] * 1000) * 1000));
  api.delete("lookback");
  const traces = (await getJSON(`/api/c13/search?${api.toString()}`)).traces || [];
  if (!traces.length) {
    results.append(el("p", { class: "muted" }, "No traces match."));
    return;
  }
  const longest = Math.max(...traces.map((t) => t.durationNs), 1);
  const rows = traces.map((t) => el("tr", { class: t.errors ? "trace-row has-error" : "trace-row" },
    el("td", {}, el("a", { href: `/trace/${t.traceId}`, class: "trace-link" },
      el("span", { class: "swatch", style: `background:${serviceColour(t.rootService)}` }),
      `${t.rootService}: ${t.rootName}`)),
    el("td", {}, t.rootRoute || ""),
    el("td", { class: "num" }, String(t.spans)),
    el("td", { class: "num" }, t.errors ? el("span", { class: "badge error" }, `${t.errors} error${t.errors > 1 ? "s" : ""}`) : ""),
    el("td", { class: "num" }, fmtDuration(t.durationNs),
      el("div", { class: "minibar" }, el("div", { class: "minibar-fill", style: "" }))),
    el("td", {}, fmtTime(t.startNs)),
    el("td", { class: "mono" }, t.traceId.slice(0, 12))));
  rows.forEach((row, i) => { row.querySelector(".minibar-fill").style.width = `${(100 * traces[i].durationNs) / longest}%`; });
  results.append(el("p", { class: "muted" }, `${traces.length} trace${traces.length > 1 ? "s" : ""}`),
    el("table", { class: "results" },
      el("thead", {}, el("tr", {}, ["Root span", "Route", "Spans", "Errors", "Duration", "Started", "Trace id"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
}
