// The page router: the server sends this one shell for /search, /trace/{id}, /services and /compare.
import { el, clear } from "./dom.js";
import { searchPage } from "./search.js";
import { tracePage } from "./trace.js";
import { servicesPage } from "./services.js";
import { comparePage } from "./compare.js";

function dropTokenFromAddress() {
  const url = new URL(window.location.href);
  if (url.searchParams.has("token")) {
    url.searchParams.delete("token"); // the server has set the HttpOnly cookie; keep the token out of history
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

async function route() {
  const main = clear(document.getElementById("main"));
  const path = window.location.pathname.replace(/\/+$/, "") || "/search";
  const params = new URLSearchParams(window.location.search);
  let page = "search";
  const trace = path.match(/^\/trace\/([0-9a-fA-F]{1,32})$/);
  try {
    if (trace) {
      page = "trace";
      await tracePage(main, trace[1].toLowerCase().padStart(32, "0"), params);
    } else if (path === "/services") {
      page = "services";
      await servicesPage(main, params);
    } else if (path === "/compare") {
      page = "compare";
      await comparePage(main, params);
    } else {
      await searchPage(main, params);
    }
  } catch (error) {
    main.append(el("p", { class: "error" }, String(error.message || error)));
  }
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", link.dataset.page === page);
  }
  document.body.dataset.ready = page;
}

dropTokenFromAddress();
window.addEventListener("popstate", route);
route();
