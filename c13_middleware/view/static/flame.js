// Flame graphs drawn as positioned boxes: click a frame to zoom into it (click the root to zoom out), type in the
// search box to highlight frames. Two kinds of tree: a profile's (coloured by CPU / IO / wait) and a comparison's
// (coloured by grown / shrunk / new / gone).
import { el, clear, fmtDuration, fmtPercent } from "./dom.js";

const ROW = 18;
const MIN_WIDTH = 0.002; // frames narrower than this part of the view are not drawn

function stateColour(node) {
  const total = node.value || 1;
  const cpu = node.cpu / total, io = node.io / total, wait = node.wait / total;
  if (cpu >= io && cpu >= wait) return { kind: "cpu", colour: `hsl(${20 + 20 * (1 - cpu)}, 85%, ${60 + 8 * (node.line % 3)}%)` };
  if (io >= wait) return { kind: "io", colour: `hsl(205, 70%, ${60 + 8 * (node.line % 3)}%)` };
  return { kind: "wait", colour: `hsl(270, 35%, ${65 + 6 * (node.line % 3)}%)` };
}

const CHANGE_COLOURS = { grown: "hsl(0, 80%, 60%)", shrunk: "hsl(210, 75%, 60%)", new: "hsl(285, 60%, 60%)",
  gone: "hsl(0, 0%, 70%)", same: "hsl(40, 20%, 82%)" };

function label(node) {
  return node.file ? `${node.name} (${node.file.split("/").pop()}:${node.line})` : node.name;
}

function tooltip(node, diff, rootValue) {
  const where = node.file ? `\n${node.file}:${node.line}` : "";
  if (diff) {
    return `${node.name}${where}\nA ${fmtPercent(node.a)} → B ${fmtPercent(node.b)} (${node.delta >= 0 ? "+" : ""}${fmtPercent(node.delta)})` +
      `\n${node.change}; p = ${node.p.toPrecision(2)}, q = ${node.q.toPrecision(2)}`;
  }
  return `${node.name}${where}\n${fmtDuration(node.value)} (${fmtPercent(node.value / (rootValue || 1))}), self ${fmtDuration(node.self)}` +
    `\ncpu ${fmtDuration(node.cpu)}, io ${fmtDuration(node.io)}, wait ${fmtDuration(node.wait)}`;
}

export function flameGraph(root, { diff = false } = {}) {
  const search = el("input", { type: "search", class: "flame-search", placeholder: "Search frames" });
  const status = el("span", { class: "muted flame-status" });
  const canvas = el("div", { class: "flame" });
  const legend = diff
    ? el("div", { class: "legend" }, Object.entries(CHANGE_COLOURS).map(([k, c]) => el("span", {}, el("i", { style: `background:${c}` }), k)))
    : el("div", { class: "legend" }, el("span", {}, el("i", { class: "cpu" }), "CPU"), el("span", {}, el("i", { class: "io" }), "IO"),
      el("span", {}, el("i", { class: "wait" }), "wait"));
  const box = el("div", { class: "flame-box" }, el("div", { class: "flame-tools" }, search, status, legend), canvas);
  let focus = [root]; // the zoomed frame and its ancestors

  function draw() {
    clear(canvas);
    const term = search.value.trim().toLowerCase();
    const target = focus[focus.length - 1];
    let depth = 0;
    let matched = 0;
    let deepest = focus.length - 1;
    for (const ancestor of focus) {
      canvas.append(frame(ancestor, 0, 1, depth++, term, true));
    }
    const stack = target.children.map((child) => [child, depth, 0]);
    // lay out children left to right inside their parent's span; a matched frame's time counts once, not again
    // for matches below it
    const targetHit = term && label(target).toLowerCase().includes(term);
    if (targetHit) matched = target.value;
    const place = (node, x, w, d, counted) => {
      if (w < MIN_WIDTH || d > 250) return;
      canvas.append(frame(node, x, w, d, term, false));
      deepest = Math.max(deepest, d);
      const hit = term && !counted && label(node).toLowerCase().includes(term);
      if (hit) matched += node.value;
      let cx = x;
      for (const child of node.children) {
        const cw = node.value ? (w * child.value) / node.value : 0;
        place(child, cx, cw, d + 1, counted || hit);
        cx += cw;
      }
    };
    let x = 0;
    for (const [child, d] of stack) {
      const w = target.value ? child.value / target.value : 0;
      place(child, x, w, d, targetHit);
      x += w;
    }
    canvas.style.height = `${(deepest + 1) * ROW + 2}px`;
    status.textContent = term ? `matched ${fmtPercent(target.value ? Math.min(matched / target.value, 1) : 0)} of the view` : "";
  }

  function frame(node, x, w, depth, term, isAncestor) {
    const colour = diff ? { kind: node.change, colour: CHANGE_COLOURS[node.change] || CHANGE_COLOURS.same } : stateColour(node);
    const hit = term && label(node).toLowerCase().includes(term);
    const div = el("div", {
      class: `frame ${colour.kind}${hit ? " match" : ""}${term && !hit ? " dim" : ""}${isAncestor ? " ancestor" : ""}`,
      title: tooltip(node, diff, root.value),
      dataset: { name: node.name },
    }, label(node));
    div.style.left = `${100 * x}%`;
    div.style.width = `${100 * w}%`;
    div.style.top = `${depth * ROW}px`;
    div.style.background = colour.colour;
    div.addEventListener("click", () => {
      const at = focus.indexOf(node);
      if (at >= 0) focus = focus.slice(0, Math.max(at, 0) + 1);
      else focus = [...focus, ...pathTo(focus[focus.length - 1], node)];
      draw();
    });
    return div;
  }

  search.addEventListener("input", draw);
  draw();
  return box;
}

function pathTo(from, node) {
  const stack = [[from, []]];
  while (stack.length) {
    const [current, path] = stack.pop();
    for (const child of current.children) {
      const next = [...path, child];
      if (child === node) return next;
      stack.push([child, next]);
    }
  }
  return [node];
}
