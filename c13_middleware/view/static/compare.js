// Compare two sets of profiles (two routes, or one route in two time windows): the frames whose share of the
// request time changed, each with its permutation-test p-value and false-discovery-rate q-value, and the
// differential flame graph.
import { el, clear, fmtPercent, query } from "./dom.js";
import { getJSON } from "./api.js";
import { flameGraph } from "./flame.js";

const FIELDS = [["service", "Service", "gateway"], ["route", "Route", "/items/{item_id}"],
  ["start", "From", ""], ["end", "To", ""]];

function toLocal(micros) {
  if (!micros) return "";
  const date = new Date(Number(micros) / 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function sideForm(side, params) {
  const inputs = {};
  const box = el("fieldset", { class: "side" }, el("legend", {}, side === "a" ? "A (before)" : "B (after)"));
  for (const [name, text, placeholder] of FIELDS) {
    const value = params.get(`${side}.${name}`) || "";
    const input = name === "start" || name === "end"
      ? el("input", { type: "datetime-local", step: 1, value: toLocal(value), name: `${side}.${name}` })
      : el("input", { value, placeholder, name: `${side}.${name}` });
    inputs[name] = input;
    box.append(el("label", {}, el("span", {}, text), input));
  }
  return { box, inputs };
}

function values(side, inputs) {
  const out = {};
  for (const [name, input] of Object.entries(inputs)) {
    let value = input.value.trim();
    if ((name === "start" || name === "end") && value) value = String(Date.parse(value) * 1000);
    out[`${side}.${name}`] = value;
  }
  return out;
}

export async function comparePage(main, params) {
  const a = sideForm("a", params);
  const b = sideForm("b", params);
  const results = el("section", { id: "compare-results" });
  const form = el("form", { class: "compare", id: "compare-form" }, a.box, b.box, el("button", { type: "submit" }, "Compare"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = query({ ...values("a", a.inputs), ...values("b", b.inputs) });
    window.history.pushState(null, "", `/compare?${chosen}`);
    run(results, chosen);
  });
  main.append(el("h1", {}, "Compare"),
    el("p", { class: "muted" }, "Two sets of profiles: two routes, or one route in two time windows (before and after a deploy)."),
    form, results);
  if ([...params.keys()].some((k) => k.startsWith("a.") || k.startsWith("b."))) await run(results, params.toString());
}

async function run(results, search) {
  clear(results).append(el("p", { class: "muted" }, "Comparing…"));
  const doc = await getJSON(`/api/c13/compare?${search}`);
  clear(results);
  results.append(el("p", { class: "summary" }, `A: ${doc.a.profiles} profile${doc.a.profiles === 1 ? "" : "s"} · B: ${doc.b.profiles} profile${doc.b.profiles === 1 ? "" : "s"} · ${doc.tested} frames tested`),
    el("p", { class: "muted method" }, `Method: ${doc.method}.`));
  if (!doc.a.profiles || !doc.b.profiles) {
    results.append(el("p", { class: "error" }, "Each side needs at least one profile (two or more for a significant difference)."));
  }
  const changes = doc.changes;
  results.append(el("h2", {}, "Significant changes"));
  if (!changes.length) {
    results.append(el("p", { class: "muted", id: "no-changes" }, "No frame's share of the time changed significantly."));
  } else {
    results.append(el("table", { class: "changes", id: "changes" },
      el("thead", {}, el("tr", {}, ["Frame", "Change", "A", "B", "Δ", "p", "q"].map((h) => el("th", {}, h)))),
      el("tbody", {}, changes.map((c) => el("tr", { class: `change-${c.change}` },
        el("td", { title: c.path.join(" → ") }, el("b", {}, c.path[c.path.length - 1]),
          el("span", { class: "muted" }, ` ${c.file.split("/").pop()}:${c.line}${c.path.length > 1 ? ` ← ${c.path[c.path.length - 2]}` : ""}`)),
        el("td", {}, el("span", { class: `badge ${c.change}` }, c.change)),
        el("td", { class: "num" }, fmtPercent(c.a)), el("td", { class: "num" }, fmtPercent(c.b)),
        el("td", { class: "num" }, `${c.delta >= 0 ? "+" : ""}${fmtPercent(c.delta)}`),
        el("td", { class: "num" }, c.p.toPrecision(2)), el("td", { class: "num" }, c.q.toPrecision(2)))))));
  }
  results.append(el("h2", {}, "Differential flame graph"),
    el("p", { class: "muted" }, "Width: mean share of A and B; colour: the frame's change (grey-beige when not significant)."),
    flameGraph(doc.root, { diff: true }));
}
