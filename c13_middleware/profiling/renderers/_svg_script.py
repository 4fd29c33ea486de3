"""The SVG flame graph's inline script: click to zoom, reset, search with highlight, hover detail. No network.

Each frame is ``<g class="f" data-x data-w data-d data-n data-c>``: its start and width as fractions of the root,
its depth, its full name and its colour; the script lays frames out again from these on zoom.
"""

from __future__ import annotations

__all__ = ["SCRIPT"]

SCRIPT = r"""
(function () {
  var svg = document.documentElement;
  var W = +svg.getAttribute("data-width"), PAD = 8, CHAR = 7, HIT = "rgb(230,0,230)";
  var frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
  var details = document.getElementById("details");
  var matched = document.getElementById("matched");
  var reset = document.getElementById("reset");
  var term = null;
  function num(g, key) { return +g.getAttribute("data-" + key); }
  function fit(g, x, w) {
    var r = g.querySelector("rect"), t = g.querySelector("text");
    r.setAttribute("x", x.toFixed(2));
    r.setAttribute("width", Math.max(w, 0).toFixed(2));
    t.setAttribute("x", (x + 3).toFixed(2));
    var name = g.getAttribute("data-n"), room = Math.floor((w - 6) / CHAR);
    t.textContent = room < 3 ? "" : (name.length <= room ? name : name.slice(0, room - 2) + "..");
  }
  function zoom(g) {
    var x0 = num(g, "x"), w0 = num(g, "w"), d0 = num(g, "d"), scale = (W - 2 * PAD) / w0, eps = 1e-9;
    frames.forEach(function (f) {
      var x = num(f, "x"), w = num(f, "w"), d = num(f, "d");
      if (d >= d0 && x >= x0 - eps && x + w <= x0 + w0 + eps) {
        f.style.display = ""; f.classList.remove("parent"); fit(f, PAD + (x - x0) * scale, w * scale);
      } else if (d < d0 && x <= x0 + eps && x + w >= x0 + w0 - eps) {
        f.style.display = ""; f.classList.add("parent"); fit(f, PAD, W - 2 * PAD);
      } else {
        f.style.display = "none";
      }
    });
    svg.setAttribute("data-zoomed", g.getAttribute("data-n"));
    reset.style.opacity = "1";
  }
  function unzoom() {
    frames.forEach(function (f) {
      f.style.display = ""; f.classList.remove("parent");
      fit(f, PAD + num(f, "x") * (W - 2 * PAD), num(f, "w") * (W - 2 * PAD));
    });
    svg.removeAttribute("data-zoomed");
    reset.style.opacity = "0.3";
  }
  function search(text) {
    var re = null;
    if (text) { try { re = new RegExp(text); } catch (e) { re = null; } }
    var spans = [];
    frames.forEach(function (f) {
      var hit = re !== null && re.test(f.getAttribute("data-n"));
      f.querySelector("rect").setAttribute("fill", hit ? HIT : f.getAttribute("data-c"));
      if (hit) { f.classList.add("hit"); spans.push([num(f, "x"), num(f, "x") + num(f, "w")]); }
      else { f.classList.remove("hit"); }
    });
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var share = 0, end = -1;
    spans.forEach(function (s) {  /* nested matches are counted once */
      if (s[0] >= end) { share += s[1] - s[0]; end = s[1]; }
      else if (s[1] > end) { share += s[1] - end; end = s[1]; }
    });
    term = re === null ? null : text;
    matched.textContent = re === null ? "" : "Matched: " + (100 * share).toFixed(1) + "%";
  }
  frames.forEach(function (f) {
    f.addEventListener("click", function () { zoom(f); });
    f.addEventListener("mouseover", function () { details.textContent = f.querySelector("title").textContent; });
    f.addEventListener("mouseout", function () { details.textContent = " "; });
  });
  reset.addEventListener("click", unzoom);
  document.getElementById("search").addEventListener("click", function () {
    var text = window.prompt("Search frames (regular expression)", term || "");
    if (text !== null) { search(text); }
  });
  window.c13FlameGraph = { zoom: zoom, reset: unzoom, search: search };
})();
"""
